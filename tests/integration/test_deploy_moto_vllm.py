"""Deploy a region-agnostic vLLM stack (Qwen2.5-7B preset) into moto's CloudFormation and read back what it made."""

from __future__ import annotations

from typing import Any

import pytest

from constructs.facts.sdk_data import resolve_image
from tests.integration.moto_cloud import REGION, moto_cloud, without_custom_resources

pytestmark = pytest.mark.xdist_group("synth")

STACK = "LlmChatVllm"


@pytest.fixture(scope="module")
def deployed(synth: Any) -> Any:
    s = synth(model="qwen2.5-7b-instruct", stack_name=STACK)
    with moto_cloud() as cloud:
        cloud.publish_assets(s.outdir, s.stack.artifact_id)
        stack = cloud.deploy(STACK, without_custom_resources(s.template))
        assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
        yield cloud, stack, cloud.stack_resources(STACK)


def _physical(resources: dict[str, Any], cfn_type: str) -> str:
    (r,) = [r for r in resources.values() if r["ResourceType"] == cfn_type]
    return str(r["PhysicalResourceId"]).rsplit("/", 1)[-1]


def test_model_runs_the_regions_vllm_image_with_the_sm_vllm_env(deployed: Any) -> None:
    cloud, _, resources = deployed
    model = cloud.client("sagemaker").describe_model(ModelName=_physical(resources, "AWS::SageMaker::Model"))
    assert model["PrimaryContainer"]["Image"] == resolve_image("huggingface-vllm").in_region(REGION).uri
    env = model["PrimaryContainer"]["Environment"]
    assert (env["SM_VLLM_MODEL"], env["SM_VLLM_SERVED_MODEL_NAME"], env["SM_VLLM_MAX_MODEL_LEN"]) == (
        "Qwen/Qwen2.5-7B-Instruct",
        "Qwen/Qwen2.5-7B-Instruct",
        "2048",
    )
    assert env["SM_VLLM_REVISION"] == "a09a35458c702b33eeacc393d103063234e8bc28"


def test_endpoint_config_has_the_sized_instance_and_vllm_start_up(deployed: Any) -> None:
    cloud, _, resources = deployed
    name = _physical(resources, "AWS::SageMaker::EndpointConfig")
    (variant,) = cloud.client("sagemaker").describe_endpoint_config(EndpointConfigName=name)["ProductionVariants"]
    assert (variant["InstanceType"], variant["ContainerStartupHealthCheckTimeoutInSeconds"]) == ("ml.g5.2xlarge", 900)


def test_chat_lambda_speaks_vllm_in_server_mode(deployed: Any) -> None:
    cloud, stack, resources = deployed
    (fn_name,) = [
        r["PhysicalResourceId"]
        for k, r in resources.items()
        if r["ResourceType"] == "AWS::Lambda::Function" and k.startswith("ChatFunction")
    ]
    env = cloud.client("lambda").get_function_configuration(FunctionName=fn_name)["Environment"]["Variables"]
    assert (env["ENGINE"], env["PROMPT_FAMILY"], env["MODEL_ID"]) == ("vllm", "server", "Qwen/Qwen2.5-7B-Instruct")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    assert outputs["ImageUri"].endswith(resolve_image("huggingface-vllm").tag)
    assert outputs["InstanceType"] == "ml.g5.2xlarge"
