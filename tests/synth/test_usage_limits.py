"""Assertions on metering and per-caller limits as the stack wires them: the chat Lambda's environment, the usage
table (only when a limit is on) and the Lambda's least-privilege grant on it."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.xdist_group("synth")

LIMITS = {
    "daily_token_budget": "100000",
    "max_streams_per_caller": "2",
    "max_requests_per_caller": "4",
    "iam_requests_per_minute": "120",
    "caller_key": "session",
}


def _env(s: Any) -> dict[str, Any]:
    (fn,) = [r["Properties"] for k, r in s.of_type("AWS::Lambda::Function").items() if k.startswith("ChatFunction")]
    return dict(fn["Environment"]["Variables"])


def _policy_statements(s: Any) -> list[dict[str, Any]]:
    return [st for p in s.of_type("AWS::IAM::Policy").values() for st in p["Properties"]["PolicyDocument"]["Statement"]]


def test_metering_is_always_on_with_the_iam_caller_and_the_stack_namespace(default_synth: Any) -> None:
    env = _env(default_synth)
    assert env["CALLER_IDENTITY"] == "iam"
    assert env["METRICS_NAMESPACE"] == "LlmChat/LlmChat"


def test_api_key_mode_names_callers_by_api_key_id(synth: Any) -> None:
    s = synth(api_auth="api_key", reserved_concurrency="20", region="us-east-1")
    assert _env(s)["CALLER_IDENTITY"] == "api_key"


def test_no_limits_no_table_no_grant(default_synth: Any) -> None:
    assert default_synth.of_type("AWS::DynamoDB::Table") == {}
    assert default_synth.of_type("AWS::DynamoDB::GlobalTable") == {}
    env = _env(default_synth)
    assert not {"USAGE_TABLE_NAME", "DAILY_TOKEN_BUDGET", "MAX_STREAMS_PER_CALLER"} & set(env)
    assert not [st for st in _policy_statements(default_synth) if "dynamodb" in str(st["Action"])]


def test_limits_create_an_on_demand_encrypted_table_with_ttl(synth: Any) -> None:
    s = synth(**LIMITS)
    (table_id,) = s.of_type("AWS::DynamoDB::Table")
    table = s.one("AWS::DynamoDB::Table")
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert "TableName" not in table  # no physical name: CloudFormation may replace it
    assert "PointInTimeRecoverySpecification" not in table
    # DynamoDB encrypts every table at rest; SSEEnabled false (or absent) means an AWS-owned key (CloudFormation's
    # AWS::DynamoDB::Table SSESpecification reference).
    assert table.get("SSESpecification", {"SSEEnabled": False}) == {"SSEEnabled": False}
    assert s.resources[table_id]["DeletionPolicy"] == "Delete"


def test_limits_reach_the_lambda_environment(synth: Any) -> None:
    s = synth(**LIMITS)
    (table_id,) = s.of_type("AWS::DynamoDB::Table")
    env = _env(s)
    assert env["USAGE_TABLE_NAME"] == {"Ref": table_id}
    assert (env["DAILY_TOKEN_BUDGET"], env["MAX_STREAMS_PER_CALLER"]) == ("100000", "2")
    assert (env["MAX_REQUESTS_PER_CALLER"], env["REQUESTS_PER_MINUTE_PER_CALLER"]) == ("4", "120")
    assert env["CALLER_KEY"] == "session"


def test_one_limit_alone_sets_only_its_variable(synth: Any) -> None:
    env = _env(synth(daily_token_budget="5000"))
    assert env["DAILY_TOKEN_BUDGET"] == "5000"
    assert not {"MAX_STREAMS_PER_CALLER", "MAX_REQUESTS_PER_CALLER", "REQUESTS_PER_MINUTE_PER_CALLER"} & set(env)
    assert "CALLER_KEY" not in env  # per role, the default
    assert "USAGE_TABLE_NAME" in env


def test_the_lambda_may_only_update_and_delete_items_of_this_table(synth: Any) -> None:
    s = synth(**LIMITS)
    (table_id,) = s.of_type("AWS::DynamoDB::Table")
    dynamo = [st for st in _policy_statements(s) if "dynamodb" in str(st["Action"])]
    assert dynamo == [
        {
            "Action": ["dynamodb:DeleteItem", "dynamodb:UpdateItem"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [table_id, "Arn"]},
        }
    ]
    (policy,) = [
        p for p in s.of_type("AWS::IAM::Policy").values() if "dynamodb" in str(p["Properties"]["PolicyDocument"])
    ]
    (role,) = policy["Properties"]["Roles"]
    assert role["Ref"].startswith("ChatFunctionRole")


def test_the_metrics_namespace_follows_the_stack_name(synth: Any) -> None:
    s = synth(stack_name="TeamChat", **LIMITS)
    assert _env(s)["METRICS_NAMESPACE"] == "LlmChat/TeamChat"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"daily_token_budget": 0}, r"daily_token_budget 0 must be at least 1"),
        ({"max_streams_per_caller": -1}, r"max_streams_per_caller -1 must be at least 1"),
        ({"rate_limit": 10, "burst_limit": 5}, r"burst_limit 5 must be at least rate_limit 10"),
    ],
)
def test_api_limits_refuse_bad_values(kwargs: dict[str, int], message: str) -> None:
    from constructs.api.settings import ApiLimits

    with pytest.raises(ValueError, match=message):
        ApiLimits(**kwargs)  # type: ignore[arg-type]


def test_api_limits_say_when_the_usage_table_is_needed() -> None:
    from constructs.api.settings import ApiLimits

    assert not ApiLimits().per_caller
    assert ApiLimits(daily_token_budget=1).per_caller
    assert ApiLimits(max_streams_per_caller=1).per_caller
