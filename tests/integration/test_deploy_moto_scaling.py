"""The scale-to-zero and autoscaling stacks deployed into moto's CloudFormation.

What moto creates: IAM, the SageMaker Model, EndpointConfig (read back with DescribeEndpointConfig) and Endpoint,
the Lambda and the API. moto checks that every variant names a model, which the variant of an inference-component
endpoint does not: that one check is relaxed for variants without a ModelName. What it cannot create: moto 5.2.5's
CloudFormation has no support for AWS::SageMaker::InferenceComponent, AWS::ApplicationAutoScaling::ScalableTarget
and ScalingPolicy, or AWS::CloudWatch::Alarm; they are taken out of the deployed copy (references to them become
literals) and their wiring is asserted on the template in tests/synth/test_scaling.py. Wake-up and idle
behaviour need real AWS.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from moto.sagemaker import models as sagemaker_models

from tests.integration.moto_cloud import REGION, moto_cloud, without_custom_resources
from tests.synth.test_scaling import SCALED, SCALING_TYPES

pytestmark = pytest.mark.xdist_group("synth")

ZERO_PINNED = {"scale_to_zero": "true", "region": REGION, "max_instances": "2"}


@contextlib.contextmanager
def _accept_variants_without_a_model() -> Iterator[None]:
    """moto checks every variant's ModelName; a variant of an inference-component endpoint has none."""
    backend = sagemaker_models.SageMakerModelBackend
    original = backend.validate_production_variants

    def validate(self: Any, variants: list[dict[str, Any]]) -> None:
        original(self, [v for v in variants if "ModelName" in v])

    backend.validate_production_variants = validate  # type: ignore[method-assign]
    try:
        yield
    finally:
        backend.validate_production_variants = original  # type: ignore[method-assign]


@pytest.fixture(scope="module")
def cloud() -> Any:
    with _accept_variants_without_a_model(), moto_cloud() as c:
        yield c


def _without_unsupported(template: dict[str, Any]) -> dict[str, Any]:
    """The template minus the types moto's CloudFormation cannot create; references to them become literals."""
    dropped = {k for k, r in template["Resources"].items() if r["Type"] in SCALING_TYPES}

    def scrub(node: Any) -> Any:
        if isinstance(node, dict):
            if "Fn::GetAtt" in node and node["Fn::GetAtt"][0] in dropped:
                return f"arn:aws:sagemaker:{REGION}:123456789012:inference-component/dropped"
            if "Ref" in node and node["Ref"] in dropped:
                return "dropped"
            return {k: scrub(v) for k, v in node.items()}
        if isinstance(node, list):
            return [scrub(v) for v in node if not (isinstance(v, str) and v in dropped)]
        return node

    resources = {k: scrub(r) for k, r in template["Resources"].items() if k not in dropped}
    for resource in resources.values():
        if resource.get("DependsOn") == []:
            del resource["DependsOn"]
    return {**template, "Resources": resources}


def _deploy(cloud: Any, s: Any, name: str) -> dict[str, Any]:
    cloud.publish_assets(s.outdir, s.stack.artifact_id)
    stack = cloud.deploy(name, _without_unsupported(without_custom_resources(s.template)))
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    return dict(cloud.stack_resources(name))


def _physical(resources: dict[str, Any], cfn_type: str) -> str:
    (r,) = [r for r in resources.values() if r["ResourceType"] == cfn_type]
    return str(r["PhysicalResourceId"]).rsplit("/", 1)[-1]


def test_scale_to_zero_endpoint_config_has_a_modelless_variant_scaling_from_zero(cloud: Any, synth: Any) -> None:
    s = synth(**ZERO_PINNED)
    resources = _deploy(cloud, s, "LlmChatZero")
    sm = cloud.client("sagemaker")
    config = sm.describe_endpoint_config(EndpointConfigName=_physical(resources, "AWS::SageMaker::EndpointConfig"))
    (variant,) = config["ProductionVariants"]
    assert "ModelName" not in variant or not variant["ModelName"]
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == ("ml.g5.12xlarge", 1)
    endpoint = sm.describe_endpoint(EndpointName=_physical(resources, "AWS::SageMaker::Endpoint"))
    assert endpoint["EndpointConfigName"] == config["EndpointConfigName"]
    (fn,) = [
        r["PhysicalResourceId"]
        for k, r in resources.items()
        if k.startswith("ChatFunction") and r["ResourceType"] == "AWS::Lambda::Function"
    ]
    env = cloud.client("lambda").get_function_configuration(FunctionName=fn)["Environment"]["Variables"]
    assert env["INFERENCE_COMPONENT_NAME"] == s.stack.llm.inference_component_name
    assert env["SAGEMAKER_ENDPOINT_NAME"] == endpoint["EndpointName"]


def test_autoscaled_stack_deploys(cloud: Any, synth: Any) -> None:
    resources = _deploy(cloud, synth(**SCALED), "LlmChatScaled")
    config = cloud.client("sagemaker").describe_endpoint_config(
        EndpointConfigName=_physical(resources, "AWS::SageMaker::EndpointConfig")
    )
    (variant,) = config["ProductionVariants"]
    assert variant["InitialInstanceCount"] == 1
