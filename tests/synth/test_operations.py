"""Operations as the stack wires them: update guardrails, alarms, the dashboard, the alarm topic, per-consumer API
keys, the narrowed trust and key policies."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.xdist_group("synth")

REGION = {"region": "us-east-1"}
ROLLBACK_SUFFIXES = ["-Llm-invocation-5xx", "-Llm-model-latency"]


def _stack_named(suffix: str) -> dict[str, Any]:
    return {"Fn::Join": ["", [{"Ref": "AWS::StackName"}, suffix]]}


def _endpoint(s: Any) -> dict[str, Any]:
    return dict(s.one("AWS::SageMaker::Endpoint"))


def _alarms(s: Any) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in s.of_type("AWS::CloudWatch::Alarm").items()}


def _alarm(s: Any, metric: str) -> dict[str, Any]:
    (found,) = [a for a in _alarms(s).values() if a.get("MetricName") == metric]
    return found


def _endpoint_dimensions(s: Any) -> list[dict[str, Any]]:
    endpoint_id = next(iter(s.of_type("AWS::SageMaker::Endpoint")))
    return [
        {"Name": "EndpointName", "Value": {"Fn::GetAtt": [endpoint_id, "EndpointName"]}},
        {"Name": "VariantName", "Value": "AllTraffic"},
    ]


def _dashboard_text(s: Any) -> str:
    (dashboard,) = s.of_type("AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
    return "".join(p if isinstance(p, str) else "<token>" for p in parts)


def test_one_instance_updates_blue_green_all_at_once_with_a_bake_and_rolls_back_on_alarms(default_synth: Any) -> None:
    config = _endpoint(default_synth)["DeploymentConfig"]
    policy = config["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"] == {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 600}
    assert policy["TerminationWaitInSeconds"] == 300
    # launch (900) + health check (600) + download budget (1800) + bake (600) + termination wait (300)
    assert policy["MaximumExecutionTimeoutInSeconds"] == 4200
    names = [a["AlarmName"] for a in config["AutoRollbackConfiguration"]["Alarms"]]
    assert names == [_stack_named(suffix) for suffix in ROLLBACK_SUFFIXES]


def test_rollback_alarm_names_are_alarms_of_this_stack_on_the_endpoint_variant(default_synth: Any) -> None:
    names = [
        a["AlarmName"] for a in _endpoint(default_synth)["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    ]
    by_name = {json.dumps(a.get("AlarmName")): a for a in _alarms(default_synth).values()}
    watched = [by_name[json.dumps(name)] for name in names]
    assert [(a["Namespace"], a["MetricName"]) for a in watched] == [
        ("AWS/SageMaker", "Invocation5XXErrors"),
        ("AWS/SageMaker", "ModelLatency"),
    ]
    for alarm in watched:
        assert alarm["Dimensions"] == _endpoint_dimensions(default_synth)
        assert alarm["Period"] == 60
    latency = watched[1]
    assert latency["Statistic"] == "Average"
    assert latency["Threshold"] == 120_000_000  # microseconds
    assert (watched[0]["Statistic"], watched[0]["Threshold"], watched[0]["DatapointsToAlarm"]) == ("Sum", 1, 2)


def test_alarm_names_do_not_make_the_endpoint_depend_on_its_alarms(default_synth: Any) -> None:
    # The alarms reference the endpoint; if the endpoint referenced them back, CloudFormation would see a cycle.
    endpoint = json.dumps(_endpoint(default_synth))
    for alarm_id in default_synth.of_type("AWS::CloudWatch::Alarm"):
        assert alarm_id not in endpoint


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        (
            {"instance_count": "2"},
            {"Type": "CANARY", "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1}, "WaitIntervalInSeconds": 600},
        ),
        (
            {"instance_count": "12", "deployment_strategy": "linear"},
            {"Type": "LINEAR", "LinearStepSize": {"Type": "INSTANCE_COUNT", "Value": 2}, "WaitIntervalInSeconds": 300},
        ),
        (
            {"instance_count": "3", "deployment_strategy": "all_at_once"},
            {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 600},
        ),
    ],
)
def test_traffic_shifting_follows_the_strategy_and_instance_count(
    synth: Any, context: dict[str, str], expected: dict[str, Any]
) -> None:
    config = _endpoint(synth(**context, **REGION))["DeploymentConfig"]
    assert config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"] == expected
    assert len(config["AutoRollbackConfiguration"]["Alarms"]) == 2


def test_rolling_updates_replace_a_batch_at_a_time_and_roll_back_everything_at_once(synth: Any) -> None:
    config = _endpoint(synth(instance_count="3", deployment_strategy="rolling", **REGION))["DeploymentConfig"]
    assert "BlueGreenUpdatePolicy" not in config
    rolling = config["RollingUpdatePolicy"]
    assert rolling["MaximumBatchSize"] == {"Type": "INSTANCE_COUNT", "Value": 1}
    assert rolling["RollbackMaximumBatchSize"] == {"Type": "INSTANCE_COUNT", "Value": 3}
    assert rolling["WaitIntervalInSeconds"] == 300
    assert 600 <= rolling["MaximumExecutionTimeoutInSeconds"] <= 28_800
    assert len(config["AutoRollbackConfiguration"]["Alarms"]) == 2


def test_strategy_none_leaves_sagemakers_default_update_but_keeps_the_alarms(synth: Any) -> None:
    s = synth(deployment_strategy="none", **REGION)
    assert "DeploymentConfig" not in _endpoint(s)
    assert _alarm(s, "Invocation5XXErrors")["Dimensions"] == _endpoint_dimensions(s)


def test_disk_alarm_watches_the_instances_of_the_variant(default_synth: Any) -> None:
    disk = _alarm(default_synth, "DiskUtilization")
    assert disk["Namespace"] == "/aws/sagemaker/Endpoints"
    assert disk["Dimensions"] == _endpoint_dimensions(default_synth)
    assert (disk["Statistic"], disk["Threshold"]) == ("Maximum", 90)


@pytest.mark.parametrize("context", [{}, {"model": "qwen2.5-7b-instruct", "instance_type": "ml.g5.2xlarge"}])
def test_no_gpu_memory_alarm_because_both_engines_reserve_the_gpus_memory_up_front(
    synth: Any, context: dict[str, str]
) -> None:
    # TGI fills the GPUs with its KV cache at start-up, vLLM reserves gpu_memory_utilization (0.9): the metric is
    # set by configuration, so a 98 % alarm never fires on vLLM and sits near its threshold on TGI. Graphed only.
    s = synth(**context, **REGION)
    assert [a for a in _alarms(s).values() if a.get("MetricName") == "GPUMemoryUtilization"] == []
    assert "GPUMemoryUtilization" in _dashboard_text(s)


@pytest.mark.parametrize("context", [{}, {"model": "qwen2.5-7b-instruct", "scale_to_zero": "true"}])
def test_no_alarm_uses_a_percentile_of_a_sagemaker_metric(synth: Any, context: dict[str, str]) -> None:
    # SageMaker documents Average, Sum, Min, Max and Sample Count for its latency metrics ("Amazon SageMaker AI
    # metrics in Amazon CloudWatch"); percentiles need raw values, which it does not promise.
    s = synth(**context, **REGION)
    sagemaker = [a for a in _alarms(s).values() if a.get("Namespace") == "AWS/SageMaker" or "Metrics" in a]
    assert sagemaker and all("ExtendedStatistic" not in a for a in sagemaker)
    assert '"p99"' not in json.dumps([a for a in _alarms(s).values() if a.get("Namespace") == "AWS/SageMaker"])
    graphed = [
        m
        for widget in json.loads(_dashboard_text(s))["widgets"]
        for m in widget.get("properties", {}).get("metrics", [])
        if m and m[0] == "AWS/SageMaker"
    ]
    # CloudWatch graphs Average when a metric names no stat.
    stats = [(m[1], m[-1].get("stat", "Average") if isinstance(m[-1], dict) else "Average") for m in graphed]
    assert {stat for name, stat in stats if name in ("ModelLatency", "OverheadLatency")} == {"Average", "Maximum"}
    assert all(not stat.startswith("p") for _, stat in stats)


def test_rollback_alarms_ignore_the_models_4xx_answers(default_synth: Any) -> None:
    # InvocationModelErrors counts every non-2XX answer of the container, bad prompts (TGI 422, vLLM 400) included:
    # it is graphed, never a rollback trigger.
    names = {
        json.dumps(a["AlarmName"])
        for a in _endpoint(default_synth)["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    }
    watched = [a for a in _alarms(default_synth).values() if json.dumps(a.get("AlarmName")) in names]
    assert {a["MetricName"] for a in watched} == {"Invocation5XXErrors", "ModelLatency"}
    assert all(a.get("MetricName") != "InvocationModelErrors" for a in _alarms(default_synth).values())
    assert "InvocationModelErrors" in _dashboard_text(default_synth)


def _execution_statements(s: Any) -> list[dict[str, Any]]:
    (policy,) = [p for k, p in s.of_type("AWS::IAM::Policy").items() if k.startswith("LlmExecutionPolicy")]
    return list(policy["Properties"]["PolicyDocument"]["Statement"])


def _alarm_arn(suffix: str) -> dict[str, Any]:
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":cloudwatch:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":alarm:",
                {"Ref": "AWS::StackName"},
                suffix,
            ],
        ]
    }


def test_execution_role_may_describe_exactly_its_rollback_alarms(default_synth: Any) -> None:
    # SageMaker "Auto-Rollback Configuration and Monitoring": the execution role needs cloudwatch:DescribeAlarms
    # on the alarms named in AutoRollbackConfiguration.
    (statement,) = [st for st in _execution_statements(default_synth) if st["Action"] == "cloudwatch:DescribeAlarms"]
    assert statement["Resource"] == [_alarm_arn(suffix) for suffix in ROLLBACK_SUFFIXES]


def test_no_describe_alarms_without_a_rollback_configuration(synth: Any) -> None:
    for s in (synth(deployment_strategy="none", **REGION), synth(scale_to_zero="true", **REGION)):
        assert "DeploymentConfig" not in s.one("AWS::SageMaker::Endpoint")
        assert all("cloudwatch:DescribeAlarms" not in json.dumps(st) for st in _execution_statements(s))


def test_chat_lambda_and_api_alarms(default_synth: Any) -> None:
    fn_id = next(k for k in default_synth.of_type("AWS::Lambda::Function") if k.startswith("ChatFunction"))
    for metric in ("Errors", "Throttles"):
        alarm = _alarm(default_synth, metric)
        assert alarm["Namespace"] == "AWS/Lambda"
        assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": fn_id}}]
        assert (alarm["Statistic"], alarm["Threshold"]) == ("Sum", 1)
    duration = _alarm(default_synth, "Duration")
    assert duration["ExtendedStatistic"] == "p99"
    assert duration["Threshold"] == 0.9 * 480_000  # 90 % of SageMaker's 8-minute limit on a stream, in ms
    api = _alarm(default_synth, "5XXError")
    assert api["Namespace"] == "AWS/ApiGateway"
    assert api["Dimensions"] == [{"Name": "ApiName", "Value": "LlmChat-chat"}, {"Name": "Stage", "Value": "prod"}]
    assert default_synth.one("AWS::ApiGateway::RestApi")["Name"] == "LlmChat-chat"


def test_without_alarm_email_there_is_no_topic_and_no_alarm_actions(default_synth: Any) -> None:
    assert default_synth.of_type("AWS::SNS::Topic") == {}
    assert len(_alarms(default_synth)) == 7
    for alarm in _alarms(default_synth).values():
        assert "AlarmActions" not in alarm


def test_alarm_email_subscribes_to_an_encrypted_topic_that_every_alarm_notifies(synth: Any) -> None:
    s = synth(alarm_email="ops@example.com", **REGION)
    (topic_id,) = s.of_type("AWS::SNS::Topic")
    topic = s.one("AWS::SNS::Topic")
    key_ids = list(s.of_type("AWS::KMS::Key"))
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": [topic["KmsMasterKeyId"]["Fn::GetAtt"][0], "Arn"]}
    topic_key = topic["KmsMasterKeyId"]["Fn::GetAtt"][0]
    assert topic_key in key_ids and len(key_ids) == 2  # its own key, not the log key
    subscription = s.one("AWS::SNS::Subscription")
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("email", "ops@example.com")
    assert subscription["TopicArn"] == {"Ref": topic_id}
    for alarm in _alarms(s).values():
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]
        assert alarm["OKActions"] == [{"Ref": topic_id}]
    statements = s.resources[topic_key]["Properties"]["KeyPolicy"]["Statement"]
    (cloudwatch,) = [st for st in statements if st["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert sorted(cloudwatch["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert cloudwatch["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert "aws:SourceArn" in cloudwatch["Condition"]["ArnLike"]
    (policy,) = s.of_type("AWS::SNS::TopicPolicy").values()
    (deny,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_dashboard_shows_endpoint_lambda_api_and_token_widgets(default_synth: Any) -> None:
    text = _dashboard_text(default_synth)
    for metric in ("Invocation5XXErrors", "ModelLatency", "GPUMemoryUtilization", "Duration", "5XXError"):
        assert f'"{metric}"' in text
    schema = 'FROM SCHEMA(\\"LlmChat/LlmChat\\", Caller, Model)'
    top = " GROUP BY Caller ORDER BY SUM() DESC LIMIT 10"
    for select in ("SUM(PromptTokens)", "SUM(CompletionTokens)"):
        assert f"SELECT {select} {schema}" in text
    for select in ("SUM(CompletionTokens)", "SUM(Requests)"):
        assert f"SELECT {select} {schema}{top}" in text


def test_chat_lambda_gets_the_token_metrics_namespace_of_its_stack(synth: Any) -> None:
    s = synth(stack_name="TeamChat", **REGION)
    (fn,) = [r["Properties"] for k, r in s.of_type("AWS::Lambda::Function").items() if k.startswith("ChatFunction")]
    assert fn["Environment"]["Variables"]["METRICS_NAMESPACE"] == "LlmChat/TeamChat"
    assert 'SCHEMA(\\"LlmChat/TeamChat\\", Caller, Model)' in _dashboard_text(s)


def test_api_keys_give_each_consumer_a_key_a_usage_plan_and_an_output(synth: Any) -> None:
    s = synth(api_auth="api_key", api_keys="alice,bob-2", api_quota_per_day="500", **REGION)
    keys = s.of_type("AWS::ApiGateway::ApiKey")
    plans = s.of_type("AWS::ApiGateway::UsagePlan")
    links = [r["Properties"] for r in s.of_type("AWS::ApiGateway::UsagePlanKey").values()]
    assert len(keys) == len(plans) == len(links) == 2
    assert sorted(k["Properties"]["Description"] for k in keys.values()) == [
        "Chat API key of consumer alice",
        "Chat API key of consumer bob-2",
    ]
    # each key in its own plan, each plan with half the stage's limits and the daily quota
    assert sorted((link["KeyId"]["Ref"], link["UsagePlanId"]["Ref"]) for link in links) == sorted(
        zip(sorted(keys), sorted(plans), strict=True)
    )
    for plan in plans.values():
        assert plan["Properties"]["Throttle"] == {"BurstLimit": 10, "RateLimit": 5}
        assert plan["Properties"]["Quota"] == {"Limit": 500, "Period": "DAY"}
    outputs = s.template["Outputs"]
    assert "ApiKeyCommand" not in outputs
    for name in ("ApiKeyCommandAlice", "ApiKeyCommandBob2"):
        command = outputs[name]["Value"]["Fn::Join"][1]
        assert command[0].startswith("aws apigateway get-api-key --include-value")
        assert command[1]["Ref"] in keys


def test_access_log_records_the_api_key_id(default_synth: Any) -> None:
    stage = default_synth.one("AWS::ApiGateway::Stage")
    access_format = json.loads(stage["AccessLogSetting"]["Format"])
    assert access_format["apiKeyId"] == "$context.identity.apiKeyId"
    assert {"requestId", "status", "ip", "caller", "user", "requestTime", "resourcePath"} <= set(access_format)


def test_sagemaker_role_trusts_only_sagemaker_acting_for_this_account(default_synth: Any) -> None:
    roles = [r["Properties"] for k, r in default_synth.of_type("AWS::IAM::Role").items() if k.startswith("Llm")]
    (statement,) = roles[0]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    source_arn = statement["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Join"][1]
    assert source_arn == [
        "arn:",
        {"Ref": "AWS::Partition"},
        ":sagemaker:",
        {"Ref": "AWS::Region"},
        ":",
        {"Ref": "AWS::AccountId"},
        ":*",
    ]


def test_curl_examples_keep_secrets_out_of_curls_arguments(default_synth: Any, synth: Any) -> None:
    for s in (default_synth, synth(api_auth="api_key", **REGION)):
        value = s.template["Outputs"]["CurlExample"]["Value"]
        text = "".join(p if isinstance(p, str) else "<url>" for p in value["Fn::Join"][1])
        curl_args = text.split("| curl ", 1)[1]
        for secret in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "API_KEY"):
            assert secret not in curl_args
        assert curl_args.startswith("--config - ")


def test_every_alarm_has_a_readable_name_of_this_stack_and_the_dashboard_lists_them_all(default_synth: Any) -> None:
    names = sorted(a["AlarmName"]["Fn::Join"][1][1] for a in _alarms(default_synth).values())
    assert names == sorted(
        [
            *ROLLBACK_SUFFIXES,
            "-Ops-disk",
            "-Ops-lambda-errors",
            "-Ops-lambda-throttles",
            "-Ops-lambda-duration",
            "-Ops-api-5xx",
        ]
    )
    text = _dashboard_text(default_synth)
    assert text.count(":alarm:<token>-") == len(names)
    for suffix in names:
        assert f":alarm:<token>{suffix}" in text


def test_dashboard_is_named_after_the_stack_and_linked_from_the_outputs(default_synth: Any) -> None:
    (dashboard_id, dashboard), *_ = default_synth.of_type("AWS::CloudWatch::Dashboard").items()
    assert dashboard["Properties"]["DashboardName"] == "LlmChat-operations"
    url = default_synth.template["Outputs"]["DashboardUrl"]["Value"]["Fn::Join"][1]
    assert url[0] == "https://" and url[-1] == {"Ref": dashboard_id}
    assert "#dashboards:name=" in url[-2]
