"""ChatApi: an authenticated, streaming HTTPS chat API (API Gateway REST → Lambda) in front of one endpoint."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

from constructs import Construct
from constructs.api import time_limits
from constructs.api.lambda_asset import Compiler, PythonTarget, build_python_asset
from constructs.api.responses_table import ResponsesTable
from constructs.api.settings import ApiLimits, ChatSettings
from constructs.api.usage_table import UsageTable
from constructs.api.wake_access import allow_wake, request_timeout
from constructs.compliance.nag import REDUNDANT_ROLE_DEPENDENCY, acknowledge, ignore_cfn_lint, skip_checkov
from constructs.compliance.owned_logs import allow_logs_to_use
from constructs.hosting.endpoint import HostedEndpoint

ROOT = Path(__file__).resolve().parents[2]
CHAT_PROXY_SOURCE = ROOT / "lambda" / "chat_proxy"
ASSET_CACHE = ROOT / ".build" / "assets"
# AWS Lambda Web Adapter, published by AWS under this account in the regions of constructs/facts/regions.py.
LWA_LAYER_ACCOUNT = "753240598075"
LWA_LAYER_VERSION = 25
# One SageMaker stream plus a margin (constructs/api/time_limits.py): the Lambda's timeout and API Gateway's integration
# timeout; no request can outlast SageMaker's 8-minute stream limit, so a longer one would only hold a dead stream.
# With scale to zero the wake-up hold comes on top (api/wake_access.request_timeout; tools/architecture.py reads this).
INTEGRATION_TIMEOUT = cdk.Duration.seconds(time_limits.REQUEST_SECONDS)
STAGE_NAME = "prod"

# Every route the chat proxy app (lambda/chat_proxy/chatapi/routes/) serves, as API Gateway resources: a route the
# app serves but API Gateway lacks answers API Gateway's 403 "Missing Authentication Token" once deployed.
# tests/synth/test_api_routes.py reads the app's routes and checks the synthesized RestApi against them, both
# ways, in every auth mode. The app's `{model:path}` (a Hugging Face id holds "/") is API Gateway's greedy
# `{model+}`, which matches the rest of the path like Starlette's `path` converter.
PAGE_ROUTE = ("GET", "/")
API_ROUTES: tuple[tuple[str, str], ...] = (
    PAGE_ROUTE,
    ("GET", "/health"),
    ("GET", "/v1/models"),
    ("GET", "/v1/models/{model+}"),
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/completions"),
    # Always routed: without an embedding model in MODEL_ROUTES the app answers 400/404 naming what it serves.
    ("POST", "/v1/embeddings"),
    # Served whether or not responses are stored: without a store the app answers why and how to enable it.
    ("POST", "/v1/responses"),
    ("GET", "/v1/responses/{response_id}"),
    ("DELETE", "/v1/responses/{response_id}"),
    ("POST", "/generate"),
)

# Errors API Gateway answers itself, in the same OpenAI shape as the Lambda's: clients parse one format.
# $context.error.messageString is already a quoted JSON string; validationErrorString is not, and holds quotes of
# its own, so the body-validation message is spelled out instead.
_BODY_HINT = json.dumps(
    "Invalid request body: /v1/chat/completions takes a JSON object with a non-empty 'messages' array, "
    "/generate one with an 'inputs' string"
)
_GATEWAY_ERRORS = {
    apigw.ResponseType.BAD_REQUEST_BODY: ("400", "invalid_request_error", _BODY_HINT),
    apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN: ("403", "authentication_error", "$context.error.messageString"),
    apigw.ResponseType.ACCESS_DENIED: ("403", "permission_error", "$context.error.messageString"),
    apigw.ResponseType.INVALID_API_KEY: ("403", "authentication_error", "$context.error.messageString"),
    apigw.ResponseType.THROTTLED: ("429", "rate_limit_error", "$context.error.messageString"),
    apigw.ResponseType.QUOTA_EXCEEDED: ("429", "rate_limit_error", "$context.error.messageString"),
    apigw.ResponseType.DEFAULT_4_XX: (None, "invalid_request_error", "$context.error.messageString"),
    apigw.ResponseType.DEFAULT_5_XX: (None, "api_error", "$context.error.messageString"),
}


class ChatApi(Construct):
    """REST API (IAM auth by default, or API keys with a usage plan) streaming from a Lambda (arm64, Python 3.13,
    Lambda Web Adapter) that may invoke only the given endpoint. Access and execution logs, X-Ray, throttling."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint: HostedEndpoint,
        settings: ChatSettings,
        limits: ApiLimits | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        responses_retention_days: int | None = None,
    ) -> None:
        """``responses_retention_days``: keep /v1/responses answers that long in a table (None: stateless)."""
        limits = limits or ApiLimits()
        super().__init__(scope, construct_id)
        self.limits = limits
        self.log_group_prefix = f"/llm-chat/{cdk.Aws.STACK_NAME}/"

        # One customer-managed key for this API's logs (about $1/month); deleted with the stack.
        self.log_key = kms.Key(
            self,
            "LogKey",
            description="Encrypts the chat API's Lambda and access logs",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.DESTROY,
            pending_window=cdk.Duration.days(7),
        )
        # The key policy CloudWatch Logs documents: its regional principal, and only for this stack's log groups
        # (named under /llm-chat/<stack name>/ so the policy can name them before they exist: no cycle).
        allow_logs_to_use(self.log_key, f"{self.log_group_prefix}*")
        self.function_logs = self._log_group("FunctionLogs", "chat-proxy", log_retention)
        self.access_logs = self._log_group("AccessLogs", "api-access", log_retention)

        # Issue 20: the hold while a scaled-to-zero component wakes lengthens the request (api/wake_access.py).
        self.request_timeout = request_timeout(settings.inference_component_name, settings.wake_wait_seconds)
        self.function = self._function(endpoint, settings, limits)
        endpoint.grant_invoke(self.function)
        allow_wake(self.function, endpoint, settings.inference_component_name, settings.wake_wait_seconds)
        self.usage_table = self._usage(limits)
        self.responses_table = self._responses_store(responses_retention_days)

        self.api = self._rest_api(limits)
        self._routes(limits)
        # api_key mode: consumer name ("" for the one shared key) -> its API key.
        self.api_keys: dict[str, apigw.IApiKey] = {}
        if limits.auth == "api_key":
            self._usage_plan(limits)
        self._acknowledge(limits)

    def _log_group(self, construct_id: str, name: str, retention: logs.RetentionDays) -> logs.LogGroup:
        group = logs.LogGroup(
            self,
            construct_id,
            log_group_name=f"{self.log_group_prefix}{name}",
            retention=retention,
            encryption_key=self.log_key,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        return group

    def _function(self, endpoint: HostedEndpoint, settings: ChatSettings, limits: ApiLimits) -> lambda_.Function:
        stack = cdk.Stack.of(self)
        target = PythonTarget(platform="manylinux2014_aarch64", python_version="3.13")
        # Bytecode in the zip when this machine has a CPython of the runtime's version (lambda_asset.py).
        self.bytecode = Compiler.find(target.python_version)
        asset_zip, key = build_python_asset(
            CHAT_PROXY_SOURCE,
            lock=CHAT_PROXY_SOURCE / "requirements.lock",
            cache_root=ASSET_CACHE,
            target=target,
            compiler=self.bytecode,
        )
        adapter = lambda_.LayerVersion.from_layer_version_arn(
            self,
            "WebAdapter",
            f"arn:{stack.partition}:lambda:{stack.region}:{LWA_LAYER_ACCOUNT}:layer:LambdaAdapterLayerArm64:{LWA_LAYER_VERSION}",
        )
        # Its own role instead of AWSLambdaBasicExecutionRole: write to this function's log group only.
        role = iam.Role(self, "FunctionRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.function_logs.log_group_arn],
            )
        )
        return lambda_.Function(
            self,
            "Function",
            role=role,
            description=f"OpenAI-compatible chat proxy for {settings.model_id} on SageMaker",
            runtime=lambda_.Runtime.PYTHON_3_13,
            architecture=lambda_.Architecture.ARM_64,
            code=lambda_.Code.from_asset(str(asset_zip), asset_hash=key, asset_hash_type=cdk.AssetHashType.CUSTOM),
            handler="run.sh",
            layers=[adapter],
            # I/O-bound proxy: 512 MB gives FastAPI a fast cold start; the timeout covers the longest stream.
            memory_size=512,
            timeout=self.request_timeout,
            reserved_concurrent_executions=limits.reserved_concurrency,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.function_logs,
            logging_format=lambda_.LoggingFormat.JSON,
            environment={
                "AWS_LAMBDA_EXEC_WRAPPER": "/opt/bootstrap",
                "AWS_LWA_INVOKE_MODE": "response_stream",
                "AWS_LWA_READINESS_CHECK_PATH": "/health",
                "PORT": "8080",
                "SAGEMAKER_ENDPOINT_NAME": endpoint.endpoint_name,
                "MODEL_ID": settings.model_id,
                "PROMPT_FAMILY": settings.prompt_family,
                "ENGINE": settings.engine,
                "MAX_INPUT_TOKENS": str(settings.max_input_tokens),
                "MAX_TOTAL_TOKENS": str(settings.max_total_tokens),
                "BACKEND_READ_TIMEOUT_SECONDS": str(time_limits.BACKEND_READ_TIMEOUT_SECONDS),
                "LOG_PROMPTS": "false",
                "POWERTOOLS_SERVICE_NAME": "chat-proxy",
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **({"METRICS_NAMESPACE": settings.metrics_namespace} if settings.metrics_namespace else {}),
                **({"MODEL_ALIASES": ",".join(settings.model_aliases)} if settings.model_aliases else {}),
                **(
                    {"DEFAULT_MAX_NEW_TOKENS": str(settings.default_max_tokens)}
                    if settings.default_max_tokens is not None
                    else {}
                ),
            }
            | (
                {"INFERENCE_COMPONENT_NAME": settings.inference_component_name}
                if settings.inference_component_name
                else {}
            )
            | ({"ACTIVE_HOURS": settings.active_hours} if settings.active_hours else {})
            | ({"IMAGE_URL_DOMAINS": ",".join(settings.image_url_domains)} if settings.image_url_domains else {})
            | (
                {"MODEL_ROUTES": json.dumps(settings.model_routes, sort_keys=True, separators=(",", ":"))}
                if settings.model_routes
                else {}
            ),
        )

    def _usage(self, limits: ApiLimits) -> UsageTable | None:
        """Token metering (who calls, from API Gateway's request context) and, when on, the per-caller limits."""
        self.function.add_environment("CALLER_IDENTITY", limits.auth)
        if limits.caller_key != "role":
            self.function.add_environment("CALLER_KEY", limits.caller_key)
        if not limits.per_caller:
            return None
        usage = UsageTable(self, "Usage")
        usage.grant_counting(self.function)
        self.function.add_environment("USAGE_TABLE_NAME", usage.table.table_name)
        if limits.daily_token_budget is not None:
            self.function.add_environment("DAILY_TOKEN_BUDGET", str(limits.daily_token_budget))
        if limits.max_streams_per_caller is not None:
            self.function.add_environment("MAX_STREAMS_PER_CALLER", str(limits.max_streams_per_caller))
        if limits.max_requests_per_caller is not None:
            self.function.add_environment("MAX_REQUESTS_PER_CALLER", str(limits.max_requests_per_caller))
        if limits.requests_per_minute is not None:
            self.function.add_environment("REQUESTS_PER_MINUTE_PER_CALLER", str(limits.requests_per_minute))
        return usage

    def _responses_store(self, retention_days: int | None) -> ResponsesTable | None:
        if retention_days is None:
            return None
        if not 1 <= retention_days <= 3650:
            raise ValueError(f"responses_retention_days {retention_days} must be 1 to 3650 days")
        # The API's own customer-managed key (it already encrypts the API's logs): stored conversations are
        # callers' prompts and answers, so they get the same protection as the logs, and no second key.
        store = ResponsesTable(self, "Responses", key=self.log_key)
        store.grant_store(self.function)
        self.function.add_environment("RESPONSES_TABLE_NAME", store.table.table_name)
        self.function.add_environment("RESPONSES_TTL_DAYS", str(retention_days))
        return store

    def _rest_api(self, limits: ApiLimits) -> apigw.RestApi:
        api = apigw.RestApi(
            self,
            "Api",
            description="OpenAI-compatible chat API (streaming) for a SageMaker LLM endpoint",
            # Its name is the ApiName dimension of its metrics: unique per stack, so alarms see only this API.
            rest_api_name=f"{cdk.Stack.of(self).stack_name}-chat",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=True,
            # The account-level logging role may serve other APIs too: keep it when this stack goes.
            cloud_watch_role_removal_policy=cdk.RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE_NAME,
                throttling_rate_limit=limits.rate_limit,
                throttling_burst_limit=limits.burst_limit,
                tracing_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # never log request bodies: they hold prompts
                metrics_enabled=True,
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=_access_log_format(),
            ),
            default_method_options=apigw.MethodOptions(
                authorization_type=apigw.AuthorizationType.IAM
                if limits.auth == "iam"
                else apigw.AuthorizationType.NONE,
                api_key_required=limits.auth == "api_key",
            ),
            disable_execute_api_endpoint=False,
        )
        # RestApi adds an "Endpoint" output with the same URL as the stack's ApiUrl; one output per fact.
        api.node.try_remove_child("Endpoint")
        for response_type, (status, error_type, message) in _GATEWAY_ERRORS.items():
            body = {"error": {"message": "__MSG__", "type": error_type, "param": None, "code": None}}
            template = json.dumps(body).replace('"__MSG__"', message)
            api.add_gateway_response(
                f"Gateway{response_type.response_type}",
                type=response_type,
                status_code=status,
                templates={"application/json": template},
            )
        return api

    def _routes(self, limits: ApiLimits) -> None:
        integration = apigw.LambdaIntegration(
            self.function,
            proxy=True,
            response_transfer_mode=apigw.ResponseTransferMode.STREAM,
            timeout=self.request_timeout,
            scope_permission_to_method=False,
        )
        body_validator = self.api.add_request_validator(
            "Validator", validate_request_body=True, validate_request_parameters=True
        )
        chat_model = self._model(
            "ChatRequest",
            required=["messages"],
            properties={"messages": {"type": "array", "minItems": 1}, "stream": {"type": "boolean"}},
        )
        generate_model = self._model(
            "GenerateRequest",
            required=["inputs"],
            properties={"inputs": {"type": "string"}, "parameters": {"type": "object"}, "stream": {"type": "boolean"}},
        )
        responses_model = self._model(
            "ResponsesRequest",
            required=["input"],
            properties={
                "input": {"type": ["string", "array"], "minLength": 1, "minItems": 1},
                "stream": {"type": "boolean"},
            },
        )
        body_models = {
            "/v1/chat/completions": chat_model,
            "/v1/responses": responses_model,
            "/generate": generate_model,
        }
        for method, path in API_ROUTES:
            if (method, path) == PAGE_ROUTE:
                continue
            model = body_models.get(path)
            validation = (
                {"request_validator": body_validator, "request_models": {"application/json": model}} if model else {}
            )
            self.api.root.resource_for_path(path).add_method(method, integration, **validation)  # type: ignore[arg-type]
        self._page_method(integration)

    def _page_method(self, integration: apigw.LambdaIntegration) -> None:
        """``GET /``: the static chat page, the one method without auth (it holds no data; the page then calls
        the authenticated routes with the user's own API key or SigV4 credentials)."""
        self.page_method = self.api.root.add_method(
            "GET", integration, authorization_type=apigw.AuthorizationType.NONE, api_key_required=False
        )
        reason = (
            "GET / serves only the static chat page (HTML/JS/CSS in the Lambda package, no data, no secrets, no "
            "model call); every API route still requires SigV4 or an API key, and the stage is throttled"
        )
        acknowledge(
            self.page_method,
            {"AwsSolutions::AwsSolutions-APIG4": reason, "AwsSolutions::AwsSolutions-COG4": reason},
        )
        skip_checkov(self.page_method.node.default_child, {"CKV_AWS_59": reason})  # type: ignore[arg-type]

    def _model(self, name: str, *, required: list[str], properties: dict[str, dict[str, object]]) -> apigw.Model:
        # A coarse first gate at the edge (shape only); the Lambda validates every field with TGI's rules.
        return self.api.add_model(
            name,
            model_name=name,
            content_type="application/json",
            schema=apigw.JsonSchema(
                schema=apigw.JsonSchemaVersion.DRAFT4,
                type=apigw.JsonSchemaType.OBJECT,
                required=required,
                properties={
                    key: apigw.JsonSchema(
                        type=_schema_type(spec),
                        min_items=spec.get("minItems"),  # type: ignore[arg-type]
                        min_length=spec.get("minLength"),  # type: ignore[arg-type]
                    )
                    for key, spec in properties.items()
                },
            ),
        )

    def _usage_plan(self, limits: ApiLimits) -> None:
        if not limits.api_keys:
            self.api_key = self.api.add_api_key("ApiKey", description="Chat API key (read it with get-api-key)")
            self._plan("UsagePlan", "Per-key limits for the chat API", self.api_key, limits)
            self.api_keys[""] = self.api_key
            return
        # One key and one plan per consumer: each gets its own rate, burst and daily quota, and its key id shows
        # in the access log, so one consumer can be throttled, cut off or rotated without touching the others.
        for name in limits.api_keys:
            suffix = consumer_suffix(name)
            key = self.api.add_api_key(f"ApiKey{suffix}", description=f"Chat API key of consumer {name}")
            self._plan(f"UsagePlan{suffix}", f"Chat API limits of consumer {name}", key, limits)
            self.api_keys[name] = key

    def _plan(self, construct_id: str, description: str, key: apigw.IApiKey, limits: ApiLimits) -> None:
        plan = self.api.add_usage_plan(
            construct_id,
            description=description,
            throttle=apigw.ThrottleSettings(rate_limit=limits.key_throttle[0], burst_limit=limits.key_throttle[1]),
            quota=apigw.QuotaSettings(limit=limits.quota_per_day, period=apigw.Period.DAY),
        )
        plan.add_api_key(key)
        plan.add_api_stage(stage=self.api.deployment_stage)

    @property
    def url(self) -> str:
        return self.api.url

    def _acknowledge(self, limits: ApiLimits) -> None:
        acknowledge(
            self.api,
            {
                "AwsSolutions::AwsSolutions-APIG3": "no WAF web ACL by default (from $5/month plus per-request "
                "fees); every method requires SigV4 or an API key and the stage is throttled",
                "AwsSolutions::AwsSolutions-COG4": "callers authenticate with AWS IAM (SigV4) or API keys, not "
                "Cognito user pools",
                "AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs]": "API Gateway's account-level logging role needs exactly "
                "this AWS-managed policy to write execution and access logs",
            },
        )
        if limits.auth == "api_key":
            acknowledge(
                self.api,
                {
                    "AwsSolutions::AwsSolutions-APIG4": "api_key mode, chosen explicitly with -c api_auth=api_key: "
                    "every method requires an API key tied to a throttled, quota-limited usage plan"
                },
            )
        assert self.function.role is not None
        acknowledge(
            self.function.role,
            {
                "AwsSolutions::AwsSolutions-IAM5[Resource::*]": "X-Ray's PutTraceSegments/PutTelemetryRecords have no "
                "resource-level permissions (added by Tracing.ACTIVE)",
            },
        )
        acknowledge(
            self.function,
            {
                "AwsSolutions::AwsSolutions-L1": "pinned to Python 3.13 (supported by Lambda; its wheels are locked "
                "for cp313 in requirements.lock); move with tools/lambda_lock.py --python-version",
            },
        )
        function = self.function.node.default_child
        assert isinstance(function, cdk.CfnResource)
        ignore_cfn_lint(function, "W3005", REDUNDANT_ROLE_DEPENDENCY)
        skip_checkov(
            self.api.deployment_stage.node.default_child,  # type: ignore[arg-type]
            {
                "CKV_AWS_120": "every response is a fresh generation for one caller: caching would cost money and "
                "could serve one user's completion to another"
            },
        )
        skip_checkov(
            function,
            {
                "CKV_AWS_116": "invoked synchronously by API Gateway only: a DLQ would never receive anything",
                "CKV_AWS_117": "calls only the SageMaker runtime API over TLS with SigV4; a VPC would add NAT or "
                "interface-endpoint cost without reducing exposure",
                "CKV_AWS_173": "environment holds no secrets (endpoint name, model id, limits); default encryption",
                "CKV_AWS_272": "code signing needs a Signer profile the user must own; the asset is hash-locked",
            },
        )
        if limits.reserved_concurrency is None:
            skip_checkov(
                function,
                {
                    "CKV_AWS_115": "unreserved by default so a small account quota is not exhausted; set "
                    "-c reserved_concurrency=N to cap it"
                },
            )


def consumer_suffix(name: str) -> str:
    """`alice-ops` -> `AliceOps`: a consumer name as a construct id / output name part."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("-"))


def _access_log_format() -> apigw.AccessLogFormat:
    """CDK's standard JSON fields plus the API key id (api_key mode: which consumer called; never the key)."""
    f = apigw.AccessLogField
    return apigw.AccessLogFormat.custom(
        json.dumps(
            {
                "requestId": f.context_request_id(),
                "ip": f.context_identity_source_ip(),
                "user": f.context_identity_user(),
                "caller": f.context_identity_caller(),
                "apiKeyId": f.context_identity_api_key_id(),
                "requestTime": f.context_request_time(),
                "httpMethod": f.context_http_method(),
                "resourcePath": f.context_resource_path(),
                "status": f.context_status(),
                "protocol": f.context_protocol(),
                "responseLength": f.context_response_length(),
            }
        )
    )


_SCHEMA_TYPES = {
    "array": apigw.JsonSchemaType.ARRAY,
    "boolean": apigw.JsonSchemaType.BOOLEAN,
    "object": apigw.JsonSchemaType.OBJECT,
    "string": apigw.JsonSchemaType.STRING,
}


def _schema_type(spec: dict[str, object]) -> apigw.JsonSchemaType | list[apigw.JsonSchemaType]:
    kind = spec["type"]
    if isinstance(kind, list):  # draft 4 allows a list of types (``input``: a string or a list of items)
        return [_SCHEMA_TYPES[str(k)] for k in kind]
    return _SCHEMA_TYPES[str(kind)]
