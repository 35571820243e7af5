"""-c guardrail: the Bedrock guardrail the chat API applies (constructs/api/guardrail.py), its grant and environment."""

from __future__ import annotations

import json
from typing import Any

import pytest

from constructs.api.guardrail import DEFAULT_FILTERS, GUARDRAIL_REGIONS
from stacks.summary import summary
from tests.synth.test_validators import CONTEXTS

pytestmark = pytest.mark.xdist_group("synth")


@pytest.fixture(scope="module")
def created(synth: Any) -> Any:
    return synth(**CONTEXTS["guardrail-create"])


@pytest.fixture(scope="module")
def existing(synth: Any) -> Any:
    return synth(**CONTEXTS["guardrail-existing-us-east-1"])


def _chat_function(synthesized: Any) -> dict[str, Any]:
    (function,) = [
        f["Properties"]
        for f in synthesized.of_type("AWS::Lambda::Function").values()
        if "SAGEMAKER_ENDPOINT_NAME" in f["Properties"].get("Environment", {}).get("Variables", {})
    ]
    return dict(function)


def _bedrock_statements(synthesized: Any) -> list[dict[str, Any]]:
    return [
        statement
        for policy in synthesized.of_type("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "bedrock" in json.dumps(statement.get("Action"))
    ]


def test_create_defines_a_guardrail_with_the_default_filters_and_a_pinned_version(created: Any) -> None:
    guardrail = created.one("AWS::Bedrock::Guardrail")
    filters = guardrail["ContentPolicyConfig"]["FiltersConfig"]
    assert [(f["Type"], f["InputStrength"], f["OutputStrength"]) for f in filters] == list(DEFAULT_FILTERS)
    assert {f["Type"] for f in filters} == {"HATE", "INSULTS", "SEXUAL", "VIOLENCE", "MISCONDUCT", "PROMPT_ATTACK"}
    assert 1 <= len(guardrail["BlockedInputMessaging"]) <= 500 and 1 <= len(guardrail["BlockedOutputsMessaging"]) <= 500
    (guardrail_id,) = created.of_type("AWS::Bedrock::Guardrail")
    created.assertions().has_resource_properties(
        "AWS::Bedrock::GuardrailVersion", {"GuardrailIdentifier": {"Fn::GetAtt": [guardrail_id, "GuardrailId"]}}
    )


def test_create_tells_the_lambda_the_id_and_the_published_version(created: Any) -> None:
    variables = _chat_function(created)["Environment"]["Variables"]
    (guardrail_id,) = created.of_type("AWS::Bedrock::Guardrail")
    (version_id,) = created.of_type("AWS::Bedrock::GuardrailVersion")
    assert variables["GUARDRAIL_ID"] == {"Fn::GetAtt": [guardrail_id, "GuardrailId"]}
    assert variables["GUARDRAIL_VERSION"] == {"Fn::GetAtt": [version_id, "Version"]}


def test_the_lambda_may_apply_the_created_guardrail_only(created: Any) -> None:
    (guardrail_id,) = created.of_type("AWS::Bedrock::Guardrail")
    assert _bedrock_statements(created) == [
        {
            "Action": "bedrock:ApplyGuardrail",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [guardrail_id, "GuardrailArn"]},
        }
    ]


def test_an_existing_guardrail_is_referenced_not_created(existing: Any) -> None:
    assert existing.of_type("AWS::Bedrock::Guardrail") == {}
    assert existing.of_type("AWS::Bedrock::GuardrailVersion") == {}
    variables = _chat_function(existing)["Environment"]["Variables"]
    assert (variables["GUARDRAIL_ID"], variables["GUARDRAIL_VERSION"]) == ("abc123def456", "1")
    (statement,) = _bedrock_statements(existing)
    assert statement["Action"] == "bedrock:ApplyGuardrail"
    assert json.dumps(statement["Resource"]).endswith(':guardrail/abc123def456"]]}')


def test_without_the_key_there_is_no_guardrail(default_synth: Any) -> None:
    assert "GUARDRAIL_ID" not in _chat_function(default_synth)["Environment"]["Variables"]
    assert _bedrock_statements(default_synth) == []
    assert "guardrail" not in summary(default_synth.stack)


def test_a_region_agnostic_template_refuses_regions_without_guardrails(created: Any) -> None:
    rules = [r for name, r in created.template["Rules"].items() if name.startswith("GuardrailGuardrailRegion")]
    (rule,) = rules
    (assertion,) = rule["Assertions"]
    assert assertion["Assert"] == {"Fn::Contains": [list(GUARDRAIL_REGIONS), {"Ref": "AWS::Region"}]}
    assert "af-south-1" not in GUARDRAIL_REGIONS


def test_the_summary_names_the_guardrail_and_its_cost_basis(created: Any, existing: Any) -> None:
    text = summary(created.stack)
    assert "guardrail    created in the stack" in text
    assert "$0.15 per 1,000 text units (1 unit = up to 1,000 characters)" in text
    assert "abc123def456 v1" in summary(existing.stack)
