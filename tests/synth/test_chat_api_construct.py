"""Assertions on the ChatApi construct as the stack wires it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from constructs.api.chat_api import API_ROUTES

pytestmark = pytest.mark.xdist_group("synth")


def _function(s: Any) -> dict[str, Any]:
    (fn,) = [r["Properties"] for k, r in s.of_type("AWS::Lambda::Function").items() if k.startswith("ChatFunction")]
    return dict(fn)


def test_every_method_streams_from_the_lambda_within_sagemakers_stream_limit(default_synth: Any) -> None:
    methods = default_synth.of_type("AWS::ApiGateway::Method")
    assert len(methods) == len(API_ROUTES)  # every route the app serves, the chat page (GET /) included
    fn_id = next(k for k in default_synth.of_type("AWS::Lambda::Function") if k.startswith("ChatFunction"))
    for method in methods.values():
        integration = method["Properties"]["Integration"]
        assert integration["Type"] == "AWS_PROXY"
        assert integration["ResponseTransferMode"] == "STREAM"
        # SageMaker's 8-minute stream plus one minute to open it: no request can usefully last longer.
        assert integration["TimeoutInMillis"] == 540_000
        uri = integration["Uri"]["Fn::Join"][1]
        assert uri[-1] == "/response-streaming-invocations"
        assert ":lambda:path/2021-11-15/functions/" in uri[-3]
        assert uri[-2] == {"Fn::GetAtt": [fn_id, "Arn"]}


def _api_methods(s: Any) -> list[dict[str, Any]]:
    """Every method but the static chat page's (GET /, no auth: tests/synth/test_chat_page_method.py)."""
    methods = s.of_type("AWS::ApiGateway::Method").values()
    return [m for m in methods if "RootResourceId" not in json.dumps(m["Properties"]["ResourceId"])]


def test_iam_auth_is_the_default_on_every_method(default_synth: Any) -> None:
    for method in _api_methods(default_synth):
        assert method["Properties"]["AuthorizationType"] == "AWS_IAM"
        assert method["Properties"].get("ApiKeyRequired") in (None, False)


def test_api_key_mode_requires_keys_with_a_usage_plan(synth: Any) -> None:
    s = synth(api_auth="api_key", reserved_concurrency="20", region="us-east-1")
    for method in _api_methods(s):
        assert method["Properties"]["ApiKeyRequired"] is True
        assert method["Properties"]["AuthorizationType"] == "NONE"
    plan = s.one("AWS::ApiGateway::UsagePlan")
    assert plan["Throttle"] == {"BurstLimit": 10, "RateLimit": 5}  # half the stage's: one key never fills it
    assert plan["Quota"] == {"Limit": 10000, "Period": "DAY"}
    assert len(s.of_type("AWS::ApiGateway::ApiKey")) == 1
    assert len(s.of_type("AWS::ApiGateway::UsagePlanKey")) == 1
    assert "ApiKeyCommand" in s.template["Outputs"]
    assert _function(s)["ReservedConcurrentExecutions"] == 20


def test_the_function_reserves_concurrency_by_default_sized_to_the_stage_burst(default_synth: Any, synth: Any) -> None:
    assert _function(default_synth)["ReservedConcurrentExecutions"] == 20  # api_burst_limit's default
    assert _function(synth(api_burst_limit="40", region="us-east-1"))["ReservedConcurrentExecutions"] == 40
    assert "ReservedConcurrentExecutions" not in _function(synth(reserved_concurrency="none", region="us-east-1"))


def test_each_api_keys_throttle_is_below_the_stages(synth: Any) -> None:
    s = synth(api_auth="api_key", api_keys="alice,bob-2,carol", api_rate_limit="30", api_burst_limit="60")
    (settings,) = s.one("AWS::ApiGateway::Stage")["MethodSettings"]
    stage = (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"])
    plans = [p["Properties"]["Throttle"] for p in s.of_type("AWS::ApiGateway::UsagePlan").values()]
    assert len(plans) == 3
    for plan in plans:
        assert plan == {"RateLimit": 10, "BurstLimit": 20}  # the stage's 30/s, 60 shared by three keys
        assert plan["RateLimit"] < stage[0] and plan["BurstLimit"] < stage[1]


def test_stage_throttles_traces_and_writes_json_access_logs(default_synth: Any) -> None:
    stage = default_synth.one("AWS::ApiGateway::Stage")
    assert stage["StageName"] == "prod"
    assert stage["TracingEnabled"] is True
    (settings,) = stage["MethodSettings"]
    assert settings["ThrottlingRateLimit"] == 10 and settings["ThrottlingBurstLimit"] == 20
    assert settings["LoggingLevel"] == "ERROR" and settings["DataTraceEnabled"] is False
    access_format = json.loads(stage["AccessLogSetting"]["Format"])
    assert {"requestId", "status", "ip", "caller", "user"} <= set(access_format)


def test_log_groups_are_encrypted_retained_a_month_and_destroyed(default_synth: Any) -> None:
    groups = default_synth.of_type("AWS::Logs::LogGroup")
    # function, access, API Gateway execution logs, and CDK's LogRetention provider (tests/synth/test_owned_logs.py)
    assert len(groups) == 4
    for group in groups.values():
        assert group["Properties"]["RetentionInDays"] == 30
        assert "KmsKeyId" in group["Properties"]
        assert group["DeletionPolicy"] == "Delete"
    (key,) = default_synth.of_type("AWS::KMS::Key").values()
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Delete"


def test_lambda_is_arm64_python_313_behind_the_web_adapter(default_synth: Any) -> None:
    fn = _function(default_synth)
    assert (fn["Runtime"], fn["Architectures"], fn["Handler"]) == ("python3.13", ["arm64"], "run.sh")
    assert fn["TracingConfig"] == {"Mode": "Active"}
    assert fn["Timeout"] == 540 and fn["MemorySize"] == 512
    layer = fn["Layers"][0]["Fn::Join"][1]
    assert layer[-1].endswith(":753240598075:layer:LambdaAdapterLayerArm64:25")
    env = fn["Environment"]["Variables"]
    assert env["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
    assert env["AWS_LWA_INVOKE_MODE"] == "response_stream"
    assert env["SAGEMAKER_ENDPOINT_NAME"]["Fn::GetAtt"][1] == "EndpointName"
    assert (env["MODEL_ID"], env["PROMPT_FAMILY"], env["ENGINE"]) == ("tiiuae/falcon-40b-instruct", "falcon", "tgi")
    assert (env["MAX_INPUT_TOKENS"], env["MAX_TOTAL_TOKENS"]) == ("1024", "2048")
    assert env["LOG_PROMPTS"] == "false"
    assert env["MODEL_ALIASES"] == "falcon-40b-instruct"  # the preset name: a model name without "/"
    assert "DEFAULT_MAX_NEW_TOKENS" not in env  # the engine's default unless the operator sets one


def test_lambda_env_follows_the_model_config(synth: Any) -> None:
    s = synth(
        model="acme/chat-7b",
        model_params_b="7.25",
        prompt_family="mistral",
        instance_type="ml.g5.2xlarge",
        max_input_tokens="3000",
        max_total_tokens="4096",
        region="us-east-1",
        default_max_tokens="700",
    )
    env = _function(s)["Environment"]["Variables"]
    assert (env["MODEL_ID"], env["PROMPT_FAMILY"], env["ENGINE"]) == ("acme/chat-7b", "mistral", "vllm")
    assert (env["MAX_INPUT_TOKENS"], env["MAX_TOTAL_TOKENS"]) == ("3000", "4096")
    assert env["MODEL_ALIASES"] == "chat-7b"  # a Hub id without a preset: the part after the last "/"
    assert env["DEFAULT_MAX_NEW_TOKENS"] == "700"


def test_lambda_may_invoke_only_this_endpoint_and_write_only_its_logs(default_synth: Any) -> None:
    (policy,) = [
        p["Properties"]
        for k, p in default_synth.of_type("AWS::IAM::Policy").items()
        if k.startswith("ChatFunctionRole")
    ]
    statements = {json.dumps(s["Action"]): s for s in policy["PolicyDocument"]["Statement"]}
    invoke = statements[json.dumps(["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"])]
    endpoint_id = next(iter(default_synth.of_type("AWS::SageMaker::Endpoint")))
    assert invoke["Resource"] == {"Ref": endpoint_id}
    logs = statements[json.dumps(["logs:CreateLogStream", "logs:PutLogEvents"])]
    assert logs["Resource"]["Fn::GetAtt"][1] == "Arn"
    xray = statements[json.dumps(["xray:PutTelemetryRecords", "xray:PutTraceSegments"])]
    assert xray["Resource"] == "*"
    assert len(statements) == 3


def test_gateway_errors_use_the_openai_error_shape(default_synth: Any) -> None:
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in default_synth.of_type("AWS::ApiGateway::GatewayResponse").values()
    }
    assert {
        "BAD_REQUEST_BODY",
        "MISSING_AUTHENTICATION_TOKEN",
        "ACCESS_DENIED",
        "THROTTLED",
        "DEFAULT_4XX",
        "DEFAULT_5XX",
    } <= set(responses)
    body = json.loads(responses["BAD_REQUEST_BODY"]["ResponseTemplates"]["application/json"])
    assert body["error"]["type"] == "invalid_request_error"
    assert "'messages' array" in body["error"]["message"]
    for response_type, props in responses.items():
        template = props["ResponseTemplates"]["application/json"]
        # Every template is valid JSON once API Gateway substitutes the (already quoted) messageString.
        error = json.loads(template.replace("$context.error.messageString", '"some message"'))["error"]
        assert set(error) == {"message", "type", "param", "code"}, response_type
    assert responses["THROTTLED"]["StatusCode"] == "429"


def test_chat_and_generate_bodies_are_validated_at_the_edge(default_synth: Any) -> None:
    models = {
        m["Properties"]["Name"]: m["Properties"]["Schema"]
        for m in default_synth.of_type("AWS::ApiGateway::Model").values()
    }
    assert models["ChatRequest"]["required"] == ["messages"]
    assert models["ChatRequest"]["properties"]["messages"] == {"type": "array", "minItems": 1}
    assert models["GenerateRequest"]["required"] == ["inputs"]
    validator = default_synth.one("AWS::ApiGateway::RequestValidator")
    assert validator["ValidateRequestBody"] is True


def test_outputs_give_the_url_and_ready_to_paste_examples(default_synth: Any) -> None:
    outputs = default_synth.template["Outputs"]
    assert {"ApiUrl", "CurlExample", "OpenAiExample"} <= set(outputs)
    curl = json.dumps(outputs["CurlExample"]["Value"])
    assert "--aws-sigv4 aws:amz:" in curl and "/v1/chat/completions" in curl


def test_lambda_asset_is_one_zip_with_the_locked_arm64_wheels_and_the_app(default_synth: Any) -> None:
    import stat
    import zipfile

    manifest = json.loads((default_synth.outdir / "LlmChat.assets.json").read_text())
    zips = [
        default_synth.outdir / a["source"]["path"]
        for a in manifest["files"].values()
        if a["source"]["path"].endswith(".zip")
    ]
    (archive,) = [z for z in zips if "run.sh" in zipfile.ZipFile(z).namelist()]
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        assert names == sorted(names, key=lambda n: n.split("/"))
        assert "main.py" in names and any(n.startswith("chatapi/") for n in names)
        assert any(n.startswith("pydantic_core/") and "aarch64" in n and n.endswith(".so") for n in names)
        assert not [n for n in names if "__pycache__" in n or n.startswith("requirements")]
        run = zf.getinfo("run.sh")
        assert (run.external_attr >> 16) & stat.S_IXUSR
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}


@pytest.mark.parametrize("context", [{}, {"deployment": "jumpstart", "region": "us-east-1"}], ids=["tgi", "jumpstart"])
def test_the_lambda_environment_is_one_the_chat_app_accepts(synth: Any, context: dict[str, str]) -> None:
    from chatapi.settings import load_settings

    env = {
        k: (v if isinstance(v, str) else "resolved-at-deploy")
        for k, v in _function(synth(**context))["Environment"]["Variables"].items()
    }
    settings = load_settings(env)
    assert settings.endpoint_name == "resolved-at-deploy"
    assert settings.max_new_tokens_cap == settings.max_total_tokens - settings.max_input_tokens
    # One read may wait as long as SageMaker's whole 8-minute stream, and ends before the Lambda's 9 minutes.
    assert 480 < settings.backend_read_timeout_seconds < 540
    assert settings.log_prompts is False


def test_log_key_lets_cloudwatch_logs_use_it_only_for_this_stacks_log_groups(default_synth: Any) -> None:
    (key,) = default_synth.of_type("AWS::KMS::Key").values()
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    logs = [s for s in statements if "Service" in s["Principal"]]
    assert all("kms:Describe*" in s["Action"] and "kms:GenerateDataKey*" in s["Action"] for s in logs)
    allowed = [s["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]["Fn::Join"][1] for s in logs]
    # This stack's prefix, and API Gateway's execution-log group of this API (a name the service chooses).
    prefix = [":log-group:/llm-chat/", {"Ref": "AWS::StackName"}, "/*"]
    assert len(allowed) == 2 and any(a[-3:] == prefix for a in allowed)
    (execution,) = [a for a in allowed if a[-3:] != prefix]
    assert ":log-group:API-Gateway-Execution-Logs_" in json.dumps(execution) and execution[-1] == "/prod"
    # ... and every log group the key encrypts is under the prefix or is that execution-log group.
    for group in default_synth.of_type("AWS::Logs::LogGroup").values():
        if "KmsKeyId" not in group["Properties"]:
            continue
        name = json.dumps(group["Properties"]["LogGroupName"])
        assert '"/llm-chat/", {"Ref": "AWS::StackName"}' in name or "API-Gateway-Execution-Logs_" in name, name
