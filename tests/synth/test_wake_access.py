"""Issue 20, wake at once: the chat Lambda may scale only its own inference component, knows how long to hold a
call (WAKE_WAIT_SECONDS), and its timeouts cover the hold plus one SageMaker stream."""

from __future__ import annotations

from typing import Any

import pytest

from constructs.api import time_limits
from constructs.api.wake_access import WAKE_ACTIONS
from stacks.config import ConfigError, from_context

pytestmark = pytest.mark.xdist_group("synth")

ZERO = {"scale_to_zero": "true", "active_hours": "MON-FRI 08:00-19:00 Europe/Berlin", "idle_minutes": "30"}


def _function(s: Any) -> dict[str, Any]:
    (function,) = [f for k, f in s.of_type("AWS::Lambda::Function").items() if k.startswith("ChatFunction")]
    return dict(function["Properties"])


def _wake_statements(s: Any) -> list[dict[str, Any]]:
    return [
        st
        for p in s.of_type("AWS::IAM::Policy").values()
        for st in p["Properties"]["PolicyDocument"]["Statement"]
        if any(a in WAKE_ACTIONS for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"]))
    ]


def _integration_timeouts(s: Any) -> set[int]:
    methods = [r["Properties"] for r in s.of_type("AWS::ApiGateway::Method").values()]
    return {m["Integration"]["TimeoutInMillis"] for m in methods if "TimeoutInMillis" in m.get("Integration", {})}


def test_scale_to_zero_grants_the_wake_actions_on_its_own_component_only(synth: Any) -> None:
    s = synth(**ZERO)
    (component,) = s.of_type("AWS::SageMaker::InferenceComponent")
    (statement,) = _wake_statements(s)
    assert statement["Effect"] == "Allow"
    assert sorted(statement["Action"]) == sorted(WAKE_ACTIONS)
    assert statement["Resource"] == {"Fn::GetAtt": [component, "InferenceComponentArn"]}
    properties = _function(s)
    assert properties["Environment"]["Variables"]["WAKE_WAIT_SECONDS"] == str(time_limits.WAKE_WAIT_DEFAULT_SECONDS)
    hold = time_limits.REQUEST_SECONDS + time_limits.WAKE_WAIT_DEFAULT_SECONDS
    assert properties["Timeout"] == hold <= time_limits.LAMBDA_MAX_TIMEOUT_SECONDS
    assert _integration_timeouts(s) == {hold * 1000}


def test_wake_wait_zero_turns_the_wake_off(synth: Any) -> None:
    s = synth(**ZERO, wake_wait_seconds="0")
    assert _wake_statements(s) == []
    assert _function(s)["Environment"]["Variables"]["WAKE_WAIT_SECONDS"] == "0"
    assert _function(s)["Timeout"] == time_limits.REQUEST_SECONDS


def test_always_on_has_no_wake(default_synth: Any) -> None:
    assert _wake_statements(default_synth) == []
    assert "WAKE_WAIT_SECONDS" not in _function(default_synth)["Environment"]["Variables"]
    assert _function(default_synth)["Timeout"] == time_limits.REQUEST_SECONDS
    assert _integration_timeouts(default_synth) == {time_limits.REQUEST_SECONDS * 1000}


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({**ZERO, "wake_wait_seconds": "361"}, r"'wake_wait_seconds': '361' .*whole number from 0 to 360"),
        ({**ZERO, "wake_wait_seconds": "soon"}, r"'wake_wait_seconds': 'soon' .*whole number"),
        ({"wake_wait_seconds": "60"}, r"'wake_wait_seconds' requires scale_to_zero=true"),
    ],
)
def test_a_bad_wake_wait_fails_synth_naming_the_key(context: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_context(context)


def test_several_models_may_wake_each_model_component_and_no_adapter(synth: Any) -> None:
    from tests.synth.test_validators import CONTEXTS

    s = synth(**CONTEXTS["several-models-scale-to-zero"], adapters="support-bot=s3://my-adapters/support/")
    components = s.of_type("AWS::SageMaker::InferenceComponent")
    models = {k for k, c in components.items() if "BaseInferenceComponentName" not in c["Properties"]["Specification"]}
    adapters = set(components) - models
    assert len(models) == 3 and len(adapters) == 1
    (statement,) = _wake_statements(s)
    resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    assert sorted(r["Fn::GetAtt"][0] for r in resources) == sorted(models)
    assert all(r["Fn::GetAtt"][1] == "InferenceComponentArn" for r in resources)
