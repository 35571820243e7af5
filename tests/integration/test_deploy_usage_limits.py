"""Deploy the per-caller-limits shape into moto's CloudFormation: the table it creates is the one the chat Lambda
is told to use, and the proxy's limits work against that deployed table as created."""

from __future__ import annotations

from typing import Any

import pytest
from chatapi.errors import ApiError
from chatapi.limits import UsageLimits

from tests.integration.moto_cloud import moto_cloud, without_custom_resources

pytestmark = pytest.mark.xdist_group("synth")

STACK = "LlmChatLimits"


@pytest.fixture(scope="module")
def deployed(synth: Any) -> Any:
    s = synth(daily_token_budget="100000", max_streams_per_caller="2")
    with moto_cloud() as cloud:
        cloud.publish_assets(s.outdir, s.stack.artifact_id)
        stack = cloud.deploy(STACK, without_custom_resources(s.template))
        assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
        yield cloud, cloud.stack_resources(STACK)


def _chat_env(cloud: Any, resources: dict[str, Any]) -> dict[str, str]:
    (fn,) = [
        r["PhysicalResourceId"]
        for k, r in resources.items()
        if r["ResourceType"] == "AWS::Lambda::Function" and k.startswith("ChatFunction")
    ]
    return dict(cloud.client("lambda").get_function_configuration(FunctionName=fn)["Environment"]["Variables"])


def test_the_lambda_is_told_the_deployed_table_and_limits(deployed: Any) -> None:
    cloud, resources = deployed
    (table,) = [r["PhysicalResourceId"] for r in resources.values() if r["ResourceType"] == "AWS::DynamoDB::Table"]
    env = _chat_env(cloud, resources)
    assert env["USAGE_TABLE_NAME"] == table
    assert (env["DAILY_TOKEN_BUDGET"], env["MAX_STREAMS_PER_CALLER"], env["CALLER_IDENTITY"]) == ("100000", "2", "iam")
    ddb = cloud.client("dynamodb")
    assert ddb.describe_table(TableName=table)["Table"]["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    # moto's CloudFormation ignores TimeToLiveSpecification; tests/synth/test_usage_limits.py asserts it.
    key = ddb.describe_table(TableName=table)["Table"]["KeySchema"]
    assert key == [{"AttributeName": "pk", "KeyType": "HASH"}]


def test_the_proxys_limits_work_on_the_deployed_table(deployed: Any) -> None:
    cloud, resources = deployed
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
    limits.check_budget("arn:aws:iam::123456789012:user/alice")
    limits.add_tokens("arn:aws:iam::123456789012:user/alice", 100_000)
    with pytest.raises(ApiError, match="daily budget of 100000 tokens"):
        limits.check_budget("arn:aws:iam::123456789012:user/alice")
