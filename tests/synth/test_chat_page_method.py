"""GET / (the static chat page) is the one API Gateway method without auth; every other stays authenticated."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.xdist_group("synth")


def _methods(s: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    page, api = [], []
    for method in s.of_type("AWS::ApiGateway::Method").values():
        on_root = "RootResourceId" in json.dumps(method["Properties"]["ResourceId"])
        (page if on_root else api).append(method)
    return page, api


@pytest.mark.parametrize(
    ("context", "api_auth"),
    [({}, "AWS_IAM"), ({"api_auth": "api_key", "reserved_concurrency": "20", "region": "us-east-1"}, "NONE")],
)
def test_only_the_page_is_public(synth: Any, context: dict[str, str], api_auth: str) -> None:
    s = synth(**context)
    (page,), api = _methods(s)
    props = page["Properties"]
    assert (props["HttpMethod"], props["AuthorizationType"]) == ("GET", "NONE")
    assert props.get("ApiKeyRequired") in (None, False)
    assert props["Integration"]["Type"] == "AWS_PROXY"
    assert len(api) >= 4
    for method in api:
        assert method["Properties"]["AuthorizationType"] == api_auth
        if api_auth == "NONE":
            assert method["Properties"]["ApiKeyRequired"] is True


def test_the_public_method_is_acknowledged_with_its_reason(default_synth: Any) -> None:
    (page,), _ = _methods(default_synth)
    (skip,) = page["Metadata"]["checkov"]["skip"]
    assert skip["id"] == "CKV_AWS_59" and "static chat page" in skip["comment"]
    (report,) = default_synth.validation_report["pluginReports"]
    page_acks = [
        v
        for v in report["suppressedViolations"]
        if v["violatingConstructs"][0]["constructPath"].endswith("/Chat/Api/Default/GET/Resource")
    ]
    assert {v["ruleName"] for v in page_acks} >= {"AwsSolutions-APIG4"}
    assert all("static chat page" in v["reason"] for v in page_acks)
