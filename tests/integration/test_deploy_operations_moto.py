"""The operations shape (alarm e-mail, per-consumer API keys, canary updates) deployed into moto's CloudFormation,
read back with boto3. moto's CloudFormation skips AWS::CloudWatch::Alarm, API Gateway keys and usage plans
and SNS subscriptions (it implements none of them); those are checked on the template in
tests/synth/test_operations.py."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.moto_cloud import moto_cloud, without_custom_resources

pytestmark = pytest.mark.xdist_group("synth")

CONTEXT = {
    "region": "us-east-1",
    "api_auth": "api_key",
    "api_keys": "alice,bob",
    "alarm_email": "ops@example.com",
    "instance_count": "2",
}


@pytest.fixture(scope="module")
def deployed(synth: Any) -> Any:
    s = synth(**CONTEXT)
    with moto_cloud() as cloud:
        cloud.publish_assets(s.outdir, s.stack.artifact_id)
        stack = cloud.deploy("LlmChat", without_custom_resources(s.template))
        assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
        yield cloud, stack, cloud.stack_resources("LlmChat")


def test_alarm_topic_is_created_with_its_own_key(deployed: Any) -> None:
    cloud, _, resources = deployed
    (topic_arn,) = [r["PhysicalResourceId"] for r in resources.values() if r["ResourceType"] == "AWS::SNS::Topic"]
    sns = cloud.client("sns")
    attributes = sns.get_topic_attributes(TopicArn=topic_arn)["Attributes"]
    # moto's KMS cannot describe a key created from a template policy object, so match the stack's own key.
    topic_keys = [
        r for k, r in resources.items() if r["ResourceType"] == "AWS::KMS::Key" and k.startswith("OpsTopicKey")
    ]
    assert [k["PhysicalResourceId"] for k in topic_keys] == [attributes["KmsMasterKeyId"].rsplit("/", 1)[-1]]


def test_dashboard_exists_with_token_widgets_for_this_stack(deployed: Any) -> None:
    cloud, _, _ = deployed
    body = json.loads(cloud.client("cloudwatch").get_dashboard(DashboardName="LlmChat-operations")["DashboardBody"])
    expressions = [
        m[0]["expression"]
        for w in body["widgets"]
        for m in w.get("properties", {}).get("metrics", [])
        if isinstance(m[0], dict) and "expression" in m[0]
    ]
    assert (
        'SELECT SUM(CompletionTokens) FROM SCHEMA("LlmChat/LlmChat", Caller, Model) '
        "GROUP BY Caller ORDER BY SUM() DESC LIMIT 10" in expressions
    )
    outputs = {o["OutputKey"]: o["OutputValue"] for o in deployed[1]["Outputs"]}
    assert outputs["DashboardUrl"].endswith("#dashboards:name=LlmChat-operations")


def test_the_endpoint_with_its_deployment_config_is_created(deployed: Any) -> None:
    cloud, _, resources = deployed
    (endpoint,) = [r for r in resources.values() if r["ResourceType"] == "AWS::SageMaker::Endpoint"]
    name = endpoint["PhysicalResourceId"].rsplit("/", 1)[-1]
    assert cloud.client("sagemaker").describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"
