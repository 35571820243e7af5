"""Deploy the synthesized template into moto's CloudFormation and read back what it created with boto3."""

from __future__ import annotations

from typing import Any

import pytest
from chatapi.errors import ApiError
from chatapi.limits import UsageLimits

from constructs.facts.sdk_data import resolve_image
from tests.integration.moto_cloud import REGION, moto_cloud, without_custom_resources

pytestmark = pytest.mark.xdist_group("synth")


@pytest.fixture(scope="module")
def cloud() -> Any:
    with moto_cloud() as c:
        yield c


@pytest.fixture(scope="module")
def deployed(cloud: Any, default_synth: Any) -> dict[str, Any]:
    cloud.publish_assets(default_synth.outdir, default_synth.stack.artifact_id)
    stack = cloud.deploy("LlmChat", without_custom_resources(default_synth.template))
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    return {"stack": stack, "resources": cloud.stack_resources("LlmChat")}


def _physical(deployed: dict[str, Any], cfn_type: str) -> str:
    (r,) = [r for r in deployed["resources"].values() if r["ResourceType"] == cfn_type]
    return str(r["PhysicalResourceId"])


def _name_from(arn_or_name: str) -> str:
    return arn_or_name.rsplit("/", 1)[-1]


def test_model_runs_the_regions_pinned_tgi_image_with_the_guides_env(cloud: Any, deployed: dict[str, Any]) -> None:
    model = cloud.client("sagemaker").describe_model(ModelName=_name_from(_physical(deployed, "AWS::SageMaker::Model")))
    assert model["PrimaryContainer"]["Image"] == resolve_image("huggingface-llm").in_region(REGION).uri
    env = model["PrimaryContainer"]["Environment"]
    assert (env["HF_MODEL_ID"], env["SM_NUM_GPUS"], env["MAX_TOTAL_TOKENS"]) == (
        "tiiuae/falcon-40b-instruct",
        "4",
        "2048",
    )
    (role,) = [r["PhysicalResourceId"] for k, r in deployed["resources"].items() if k.startswith("LlmExecutionRole")]
    assert model["ExecutionRoleArn"].endswith(f":role/{role}")


def test_endpoint_config_has_the_instance_and_health_check(cloud: Any, deployed: dict[str, Any]) -> None:
    name = _name_from(_physical(deployed, "AWS::SageMaker::EndpointConfig"))
    (variant,) = cloud.client("sagemaker").describe_endpoint_config(EndpointConfigName=name)["ProductionVariants"]
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == ("ml.g5.12xlarge", 1)
    assert variant["ContainerStartupHealthCheckTimeoutInSeconds"] == 600


def test_endpoint_uses_the_config_and_is_named_in_the_outputs(cloud: Any, deployed: dict[str, Any]) -> None:
    sm = cloud.client("sagemaker")
    name = _name_from(_physical(deployed, "AWS::SageMaker::Endpoint"))
    endpoint = sm.describe_endpoint(EndpointName=name)
    config = _name_from(_physical(deployed, "AWS::SageMaker::EndpointConfig"))
    assert endpoint["EndpointConfigName"] == config
    outputs = {o["OutputKey"]: o["OutputValue"] for o in deployed["stack"].get("Outputs", [])}
    assert outputs["EndpointName"] == name
    assert outputs["ImageUri"].endswith(resolve_image("huggingface-llm").tag)


def test_chat_lambda_is_wired_to_the_deployed_endpoint(cloud: Any, deployed: dict[str, Any]) -> None:
    endpoint_name = _name_from(_physical(deployed, "AWS::SageMaker::Endpoint"))
    (fn_name,) = [
        r["PhysicalResourceId"]
        for k, r in deployed["resources"].items()
        if r["ResourceType"] == "AWS::Lambda::Function" and k.startswith("ChatFunction")
    ]
    config = cloud.client("lambda").get_function_configuration(FunctionName=fn_name)
    env = config["Environment"]["Variables"]
    assert env["SAGEMAKER_ENDPOINT_NAME"] == endpoint_name
    assert env["AWS_LWA_INVOKE_MODE"] == "response_stream"
    assert (config["Runtime"], config["Handler"]) == ("python3.13", "run.sh")  # moto reports x86_64 regardless


def test_chat_routes_exist_and_require_sigv4(cloud: Any, deployed: dict[str, Any]) -> None:
    apigw = cloud.client("apigateway")
    api_id = _physical(deployed, "AWS::ApiGateway::RestApi")
    resources = {r["path"]: r for r in apigw.get_resources(restApiId=api_id, embed=["methods"])["items"]}
    assert {"/v1/chat/completions", "/v1/models", "/generate", "/health"} <= set(resources)
    method = apigw.get_method(restApiId=api_id, resourceId=resources["/v1/chat/completions"]["id"], httpMethod="POST")
    assert method["authorizationType"] == "AWS_IAM"


@pytest.mark.parametrize("instance_type", [None, "ml.g5.12xlarge"])
def test_jumpstart_stack_deploys_with_locked_image_and_artifacts(
    cloud: Any, synth: Any, instance_type: str | None
) -> None:
    context = {"deployment": "jumpstart", "region": REGION}
    if instance_type:
        context["instance_type"] = instance_type
    s = synth(**context)
    name = f"LlmChatJumpStart{'G512' if instance_type else 'Default'}"
    cloud.publish_assets(s.outdir, s.stack.artifact_id)
    stack = cloud.deploy(name, without_custom_resources(s.template))
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    resources = cloud.stack_resources(name)
    sm = cloud.client("sagemaker")
    (model_name,) = [
        r["PhysicalResourceId"] for r in resources.values() if r["ResourceType"] == "AWS::SageMaker::Model"
    ]
    model = sm.describe_model(ModelName=_name_from(model_name))
    locked = s.stack.llm.locked
    expected_type = instance_type or locked.default_instance_type
    facts = locked.deployments(expected_type)[REGION]
    assert model["PrimaryContainer"]["Image"] == facts.image.uri
    # moto drops EnableNetworkIsolation (always False); the synth tests assert it on the template.
    container = model["PrimaryContainer"]
    source = container.get("ModelDataSource", {}).get("S3DataSource", {}).get("S3Uri") or container.get("ModelDataUrl")
    assert source == facts.model_data.s3_uri
    (config_name,) = [
        r["PhysicalResourceId"] for r in resources.values() if r["ResourceType"] == "AWS::SageMaker::EndpointConfig"
    ]
    (variant,) = sm.describe_endpoint_config(EndpointConfigName=_name_from(config_name))["ProductionVariants"]
    assert variant["InstanceType"] == expected_type


LIMITS_STACK = "LlmChatLimits"


@pytest.fixture(scope="module")
def deployed_limits(cloud: Any, synth: Any) -> Any:
    """The per-caller-limits shape: its table is the one the chat Lambda is told to use, and the proxy's limits
    work against that deployed table as created."""
    s = synth(daily_token_budget="100000", max_streams_per_caller="2")
    cloud.publish_assets(s.outdir, s.stack.artifact_id)
    stack = cloud.deploy(LIMITS_STACK, without_custom_resources(s.template))
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    return cloud, cloud.stack_resources(LIMITS_STACK)


def _chat_env(cloud: Any, resources: dict[str, Any]) -> dict[str, str]:
    (fn,) = [
        r["PhysicalResourceId"]
        for k, r in resources.items()
        if r["ResourceType"] == "AWS::Lambda::Function" and k.startswith("ChatFunction")
    ]
    return dict(cloud.client("lambda").get_function_configuration(FunctionName=fn)["Environment"]["Variables"])


def test_the_lambda_is_told_the_deployed_table_and_limits(deployed_limits: Any) -> None:
    cloud, resources = deployed_limits
    (table,) = [r["PhysicalResourceId"] for r in resources.values() if r["ResourceType"] == "AWS::DynamoDB::Table"]
    env = _chat_env(cloud, resources)
    assert env["USAGE_TABLE_NAME"] == table
    assert (env["DAILY_TOKEN_BUDGET"], env["MAX_STREAMS_PER_CALLER"], env["CALLER_IDENTITY"]) == ("100000", "2", "iam")
    ddb = cloud.client("dynamodb")
    assert ddb.describe_table(TableName=table)["Table"]["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    # moto's CloudFormation ignores TimeToLiveSpecification; tests/synth/test_usage_limits.py asserts it.
    key = ddb.describe_table(TableName=table)["Table"]["KeySchema"]
    assert key == [{"AttributeName": "pk", "KeyType": "HASH"}]


def test_the_proxys_limits_work_on_the_deployed_table(deployed_limits: Any) -> None:
    cloud, resources = deployed_limits
    env = _chat_env(cloud, resources)
    limits = UsageLimits(
        cloud.client("dynamodb"),
        env["USAGE_TABLE_NAME"],
        daily_token_budget=int(env["DAILY_TOKEN_BUDGET"]),
        max_streams=int(env["MAX_STREAMS_PER_CALLER"]),
    )
    slots = [limits.acquire_stream("arn:aws:iam::123456789012:user/alice") for _ in range(2)]
    with pytest.raises(ApiError):
        limits.acquire_stream("arn:aws:iam::123456789012:user/alice")
    for slot in slots:
        assert slot is not None
        limits.release_stream(slot)
    reservation = limits.reserve("arn:aws:iam::123456789012:user/alice", 100_000)
    assert reservation is not None
    limits.settle(reservation, 100_000)
    with pytest.raises(ApiError, match="daily budget of 100000 tokens"):
        limits.reserve("arn:aws:iam::123456789012:user/alice", 1)
