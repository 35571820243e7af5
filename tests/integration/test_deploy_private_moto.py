"""Private-deployment templates deployed into moto's CloudFormation, read back with boto3.

moto creates the VPC, subnets, endpoints, security groups, KMS key, buckets and SageMaker resources; it
emulates neither routing, encryption nor network isolation (it drops EnableNetworkIsolation), so those stay
asserted on the template (tests/synth/test_private.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.moto_cloud import moto_cloud, without_custom_resources
from tests.synth.test_private import ALL_ON, JUMPSTART_PRIVATE, WEIGHTS

pytestmark = pytest.mark.xdist_group("synth")


@pytest.fixture(scope="module")
def cloud() -> Any:
    with moto_cloud() as c:
        yield c


def _deploy(cloud: Any, s: Any, name: str) -> dict[str, Any]:
    cloud.publish_assets(s.outdir, s.stack.artifact_id)
    stack = cloud.deploy(name, without_custom_resources(s.template), timeout=120)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    return cloud.stack_resources(name)


def _one(resources: dict[str, Any], cfn_type: str) -> str:
    (physical,) = [r["PhysicalResourceId"] for r in resources.values() if r["ResourceType"] == cfn_type]
    return str(physical).rsplit("/", 1)[-1]


def test_all_options_deploy_and_the_model_runs_in_the_created_subnets(cloud: Any, synth: Any) -> None:
    resources = _deploy(cloud, synth(**ALL_ON), "LlmChatPrivate")
    sm, ec2 = cloud.client("sagemaker"), cloud.client("ec2")
    model = sm.describe_model(ModelName=_one(resources, "AWS::SageMaker::Model"))
    assert model["PrimaryContainer"]["ModelDataSource"]["S3DataSource"]["S3Uri"] == WEIGHTS
    assert model["PrimaryContainer"]["Environment"]["HF_MODEL_ID"] == "/opt/ml/model"
    vpc_id = _one(resources, "AWS::EC2::VPC")
    subnets = ec2.describe_subnets(SubnetIds=model["VpcConfig"]["Subnets"])["Subnets"]
    assert {s["VpcId"] for s in subnets} == {vpc_id} and len({s["AvailabilityZone"] for s in subnets}) == 2
    (group,) = ec2.describe_security_groups(GroupIds=model["VpcConfig"]["SecurityGroupIds"])["SecurityGroups"]
    assert group["IpPermissions"] == []
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["VpcEndpoints"]
    assert len(endpoints) == 4
    config = sm.describe_endpoint_config(EndpointConfigName=_one(resources, "AWS::SageMaker::EndpointConfig"))
    (key_id,) = [r["PhysicalResourceId"] for k, r in resources.items() if k.startswith("LlmPrivateKey") and "Key" in k]
    assert config["KmsKeyId"].endswith(f":key/{key_id}")
    assert config["DataCaptureConfig"]["KmsKeyId"] == config["KmsKeyId"]
    bucket = config["DataCaptureConfig"]["DestinationS3Uri"].split("/")[2]
    encryption = cloud.client("s3").get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"


def test_jumpstart_in_a_created_vpc_deploys(cloud: Any, synth: Any) -> None:
    resources = _deploy(cloud, synth(**JUMPSTART_PRIVATE), "LlmChatJumpStartPrivate")
    model = cloud.client("sagemaker").describe_model(ModelName=_one(resources, "AWS::SageMaker::Model"))
    assert len(model["VpcConfig"]["Subnets"]) == 2
