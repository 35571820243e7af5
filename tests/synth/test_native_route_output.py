"""The stack prints SageMaker's own OpenAI base URL beside the chat API's, in the shape the SageMaker docs give.

Shape: SageMaker developer guide, "Invoke endpoints with OpenAI-compatible APIs", and its sample notebook
(aws-samples/sagemaker-genai-hosting-examples 03-features/openai/sagemaker-inference-openai-api.ipynb):
https://runtime.sagemaker.<REGION>.amazonaws.com/endpoints/<ENDPOINT>[/inference-components/<IC_NAME>]/openai/v1
"""

from __future__ import annotations

import re
from typing import Any

import pytest

pytestmark = pytest.mark.xdist_group("synth")

# The same contexts the scaling tests synthesize, so the session cache shares them.
ZERO = {"scale_to_zero": "true", "active_hours": "MON-FRI 08:00-19:00 Europe/Berlin", "idle_minutes": "30"}
NAME = r"[a-zA-Z0-9](-*[a-zA-Z0-9])*"  # botocore sagemaker: EndpointName / InferenceComponentName pattern


def _render(value: Any, s: Any, region: str = "eu-west-1", suffix: str = "amazonaws.com") -> str:
    """The output's value as CloudFormation would resolve it, with the endpoint and component as named."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return sep.join(_render(p, s, region, suffix) for p in parts)
    if value.get("Ref") == "AWS::Region":
        return region
    if value.get("Ref") == "AWS::URLSuffix":
        return suffix
    if "Fn::GetAtt" in value:
        logical, attr = value["Fn::GetAtt"]
        assert attr == "EndpointName" and s.resources[logical]["Type"] == "AWS::SageMaker::Endpoint"
        return "my-endpoint"
    raise AssertionError(f"unexpected token in the output: {value}")


def test_single_model_endpoint_gets_the_endpoint_route(default_synth: Any) -> None:
    output = default_synth.template["Outputs"]["NativeOpenAiBaseUrl"]
    url = _render(output["Value"], default_synth)
    assert url == "https://runtime.sagemaker.eu-west-1.amazonaws.com/endpoints/my-endpoint/openai/v1"
    # Beside ours, not instead of it.
    assert "ApiUrl" in default_synth.template["Outputs"]


def test_china_partition_gets_its_own_dns_suffix(default_synth: Any) -> None:
    value = default_synth.template["Outputs"]["NativeOpenAiBaseUrl"]["Value"]
    url = _render(value, default_synth, region="cn-north-1", suffix="amazonaws.com.cn")
    assert url.startswith("https://runtime.sagemaker.cn-north-1.amazonaws.com.cn/endpoints/")


def test_scale_to_zero_names_the_inference_component_in_the_path(synth: Any) -> None:
    s = synth(**ZERO)
    url = _render(s.template["Outputs"]["NativeOpenAiBaseUrl"]["Value"], s)
    component = s.one("AWS::SageMaker::InferenceComponent")["InferenceComponentName"]
    assert url == (
        f"https://runtime.sagemaker.eu-west-1.amazonaws.com/endpoints/my-endpoint/inference-components/{component}"
        "/openai/v1"
    )
    assert re.fullmatch(NAME, component) and len(component) <= 63
