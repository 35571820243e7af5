"""The deployable unit: one SageMaker endpoint (TGI or JumpStart) and, in front of it, the chat API."""

from __future__ import annotations

import dataclasses
from typing import Any

import aws_cdk as cdk

from constructs import Construct
from constructs.api import time_limits
from constructs.api.chat_api import STAGE_NAME, ChatApi, consumer_suffix
from constructs.api.guardrail import ChatGuardrail
from constructs.api.settings import ApiLimits, ChatSettings, model_aliases
from constructs.compliance.owned_logs import own_execution_log_group, own_log_retention_logs
from constructs.engines.jumpstart_endpoint import JumpStartEndpoint, JumpStartModelRef, jumpstart_hosting
from constructs.engines.tgi_endpoint import TgiEndpoint, TgiModel
from constructs.engines.vllm_endpoint import VllmEndpoint, VllmModel, default_health_check
from constructs.facts.catalog import VLLM_GPU_MEMORY_UTILIZATION
from constructs.facts.component_plan import Share, plan_components
from constructs.facts.jumpstart_lock import jumpstart_lock_command, load_locked_model
from constructs.facts.regions import supported_regions
from constructs.facts.sdk_data import gpu_info
from constructs.hosting.autoscaling import InstanceScaling
from constructs.hosting.inference_component import ScaleToZero
from constructs.hosting.monitoring import Monitoring
from constructs.hosting.routing import Routing
from constructs.hosting.shape import Hosting
from constructs.private.model_data import S3ModelData
from constructs.private.network import NetworkSettings
from constructs.private.private_hosting import PrivateSettings
from stacks.config import AppConfig
from stacks.native_route import add_native_route_output
from stacks.several_models import SeveralModels, several


class LlmChatStack(cdk.Stack):
    """Composes the endpoint and emits what a user needs to call it."""

    def __init__(self, scope: Construct, construct_id: str, *, config: AppConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, description=_description(config), **kwargs)
        self.config = config
        self.llm: TgiEndpoint | VllmEndpoint | JumpStartEndpoint
        if config.deployment == "jumpstart":
            self.llm = self._jumpstart(config)
        elif config.engine == "vllm":
            self.llm = self._vllm(config)
        else:
            self.llm = self._tgi(config)
        self.components = self._components(config) if isinstance(self.llm, VllmEndpoint) else None
        max_input, max_total = self._token_limits()
        self.chat = ChatApi(
            self,
            "Chat",
            endpoint=self.llm,
            settings=ChatSettings(
                model_id=self.model_id,
                prompt_family=config.model.prompt_family,
                engine=config.engine,
                max_input_tokens=max_input,
                max_total_tokens=max_total,
                inference_component_name=self.llm.inference_component_name,
                metrics_namespace=self.metrics_namespace,
                active_hours=_active_hours(self.llm),
                image_url_domains=config.image_url_domains,
                model_aliases=model_aliases(self.model_id, config.model.name),
                default_max_tokens=config.default_max_tokens,
                wake_wait_seconds=config.wake_wait_seconds,  # issue 20
                model_routes=self.components.routes if self.components is not None else None,
            ),
            limits=ApiLimits(
                auth=config.api_auth,
                rate_limit=config.api_rate_limit,
                burst_limit=config.api_burst_limit,
                quota_per_day=config.api_quota_per_day,
                reserved_concurrency=config.reserved_concurrency,
                api_keys=config.api_keys,
                key_rate_limit=config.api_key_rate_limit,
                key_burst_limit=config.api_key_burst_limit,
                daily_token_budget=config.daily_token_budget,
                max_streams_per_caller=config.max_streams_per_caller,
                max_requests_per_caller=config.max_requests_per_caller,
                requests_per_minute=config.iam_requests_per_minute,
                caller_key=config.caller_key,
            ),
            responses_retention_days=config.responses_retention_days if config.responses_store else None,
        )
        # Bedrock guardrail on prompts and answers (-c guardrail; constructs/api/guardrail.py).
        self.guardrail = ChatGuardrail(self, "Guardrail", choice=config.guardrail) if config.guardrail else None
        if self.guardrail is not None:
            self.guardrail.attach(self.chat.function)
        own_execution_log_group(self.chat.api, stage_name=STAGE_NAME, key=self.chat.log_key)
        own_log_retention_logs(self, key=self.chat.log_key, name=f"{self.chat.log_group_prefix}log-retention")
        self._region_rule()
        # Every model after the first has its own alarms: they page and show on the dashboard like the first's.
        more = [m.alarms for m in self.components.components] if self.components is not None else []
        self.monitoring = Monitoring(
            self,
            "Ops",
            endpoint_name=self.llm.endpoint_name,
            variant_name=self.llm.variant_name,
            gpu_count=gpu_info(self.llm.hosting.instance_type).count,
            rollback_alarms=[*self.llm.rollback_alarms.alarms, *(a for r in more for a in r.alarms)],
            rollback_alarm_names=[*self.llm.rollback_alarms.names, *(n for r in more for n in r.names)],
            function=self.chat.function,
            longest_generation=cdk.Duration.seconds(time_limits.SAGEMAKER_STREAM_SECONDS),
            api_name=self.chat.api.rest_api_name,
            stage_name=STAGE_NAME,
            metrics_namespace=self.metrics_namespace,
            alarm_email=config.alarm_email,
        )
        cdk.CfnOutput(self, "EndpointName", value=self.llm.endpoint_name, description="SageMaker endpoint name")
        cdk.CfnOutput(self, "ModelId", value=self.model_id, description="Model served by the endpoint")
        cdk.CfnOutput(self, "ImageUri", value=self.llm.image_uri, description="Serving container image")
        cdk.CfnOutput(self, "InstanceType", value=self.llm.hosting.instance_type, description="Instance type")
        cdk.CfnOutput(self, "ApiUrl", value=self.chat.url, description="Chat API base URL")
        add_native_route_output(
            self, endpoint_name=self.llm.endpoint_name, inference_component_name=self.llm.inference_component_name
        )
        cdk.CfnOutput(self, "DashboardUrl", value=self.monitoring.dashboard_url, description="Operations dashboard")
        for name, (value, description) in _examples(self, config.api_auth).items():
            cdk.CfnOutput(self, name, value=value, description=description)

    def _region_rule(self) -> None:
        """A region-agnostic template refuses, before creating anything, regions its mappings do not cover."""
        if not cdk.Token.is_unresolved(self.region):
            return  # a pinned region was checked at synth
        if isinstance(self.llm, JumpStartEndpoint):
            locked = list(self.llm.locked.regions)
            regions = supported_regions(locked)
            lock = jumpstart_lock_command(self.llm.model_id, self.config.jumpstart_version, [*locked, "<region>"])
            how = f"JumpStart facts are locked for {', '.join(locked)}; to add a region run: {lock}"
        else:
            regions = supported_regions(self.llm.image.regions)
            how = f"regions with both the {self.llm.image.framework} image and the Lambda Web Adapter layer"
        cdk.CfnRule(
            self,
            "SupportedRegion",
            assertions=[
                cdk.CfnRuleAssertion(
                    assert_=cdk.Fn.condition_contains(regions, cdk.Aws.REGION),
                    assert_description=f"This stack deploys only to {', '.join(regions)} ({how}).",
                )
            ],
        )

    @property
    def metrics_namespace(self) -> str:
        """Where the chat proxy writes its EMF token metrics (METRICS_NAMESPACE) and the dashboard reads them."""
        return f"LlmChat/{self.stack_name}"

    @property
    def model_id(self) -> str:
        if isinstance(self.llm, JumpStartEndpoint):
            return self.llm.model_id
        return self.config.model.hf_model_id

    def _token_limits(self) -> tuple[int, int]:
        """What the chat proxy must enforce: the container's own limits (a JumpStart spec sets its own)."""
        if isinstance(self.llm, JumpStartEndpoint):
            env = self.llm.environment
            max_input = env.get("MAX_INPUT_TOKENS") or env.get("MAX_INPUT_LENGTH")
            max_total = env.get("MAX_TOTAL_TOKENS")
            if max_input and max_total:
                return int(max_input), int(max_total)
        return self.config.max_input_tokens, self.config.max_total_tokens

    def _jumpstart(self, c: AppConfig) -> JumpStartEndpoint:
        assert c.jumpstart_model is not None
        locked = load_locked_model(c.jumpstart_model, c.jumpstart_version, [c.region] if c.region else None)
        hosting = jumpstart_hosting(
            locked,
            instance_type=c.instance_type,
            instance_count=c.instance_count,
            health_check_timeout=c.health_check_timeout,
            model_download_timeout=c.model_download_timeout,
            volume_size=c.volume_size,
        )
        hosting = dataclasses.replace(
            hosting, deployment_strategy=c.deployment_strategy, **_scaling(c), routing=_routing(c)
        )
        return JumpStartEndpoint(
            self,
            "Llm",
            model=JumpStartModelRef(c.jumpstart_model, c.jumpstart_version, c.accept_eula),
            hosting=hosting,
            private=_private(c),
        )

    def _tgi(self, c: AppConfig) -> TgiEndpoint:
        assert c.instance_type is not None
        hosting = Hosting(
            instance_type=c.instance_type,
            instance_count=c.instance_count,
            health_check_timeout=c.health_check_timeout if c.health_check_timeout is not None else 600,
            model_download_timeout=c.model_download_timeout,
            volume_size=c.volume_size,
            **_scaling(c),
            routing=_routing(c),
            deployment_strategy=c.deployment_strategy,
        )
        return TgiEndpoint(
            self,
            "Llm",
            model=TgiModel(
                hf_model_id=c.model.hf_model_id,
                tgi_version=c.tgi_version,
                params_b=c.model.params_b,
                architecture=c.model.architecture,
                num_gpus=c.num_gpus,
                max_input_tokens=c.max_input_tokens,
                max_total_tokens=c.max_total_tokens,
                max_batch_prefill_tokens=c.max_batch_prefill_tokens,
                max_batch_total_tokens=c.max_batch_total_tokens,
                quantize=c.quantize,
                hf_token_secret=c.hf_token_secret,
                revision=c.model.revision,
                trust_remote_code=c.trust_remote_code,
                extra_env=c.extra_env,
            ),
            hosting=hosting,
            private=_private(c),
        )

    def _vllm(self, c: AppConfig) -> VllmEndpoint:
        assert c.instance_type is not None
        hosting = Hosting(
            instance_type=c.instance_type,
            instance_count=c.instance_count,
            health_check_timeout=(
                c.health_check_timeout if c.health_check_timeout is not None else default_health_check(c.model.params_b)
            ),
            model_download_timeout=c.model_download_timeout,
            volume_size=c.volume_size,
            **_scaling(c),
            routing=_routing(c),
            components=several(c),
        )
        memory = c.gpu_memory_utilization if c.gpu_memory_utilization is not None else VLLM_GPU_MEMORY_UTILIZATION
        return VllmEndpoint(
            self,
            "Llm",
            model=VllmModel(
                hf_model_id=c.model.hf_model_id,
                # The chat proxy lists and sends its MODEL_ID; vLLM answers 404 to any other `model`.
                served_model_name=c.model.hf_model_id,
                revision=c.model.revision,
                image=c.vllm_image,
                vllm_version=c.vllm_version,
                params_b=c.model.params_b,
                architecture=c.model.architecture,
                context_length=c.model.context_length,
                num_gpus=self._shares(c)[0].accelerators if several(c) else c.num_gpus,
                max_total_tokens=c.max_total_tokens,
                max_num_batched_tokens=c.max_num_batched_tokens,
                quantize=c.quantize,
                hf_token_secret=c.hf_token_secret,
                trust_remote_code=c.trust_remote_code,
                lmcache=c.lmcache,
                reasoning_parser=c.reasoning_parser,
                gpu_memory_utilization=memory,
                tool_call_parser=c.tool_call_parser or c.model.tool_call_parser,
                media_domains=c.image_url_domains,
                extra_env=c.extra_env,
                max_loras=len(c.adapters),
            ),
            hosting=hosting,
            private=_private(c),
        )

    def _shares(self, c: AppConfig) -> list[Share]:
        """Each model's GPUs on the instance (checked at config time; the same plan here)."""
        assert c.instance_type is not None
        everything = [*c.models, *([c.embedding_model] if c.embedding_model else [])]
        memory = c.gpu_memory_utilization if c.gpu_memory_utilization is not None else VLLM_GPU_MEMORY_UTILIZATION
        return plan_components(everything, c.instance_type, max_total_tokens=c.max_total_tokens, memory_fraction=memory)

    def _components(self, c: AppConfig) -> SeveralModels | None:
        """The other models, the embedding model and the adapters, each its own component on the endpoint."""
        if not several(c):
            return None
        assert isinstance(self.llm, VllmEndpoint) and self.llm.component is not None
        return SeveralModels(self, c, shares=self._shares(c), base=self.llm)


def _active_hours(llm: TgiEndpoint | VllmEndpoint | JumpStartEndpoint) -> str | None:
    """The schedule the component's scheduled actions follow, as the chat proxy reads it (ACTIVE_HOURS)."""
    zero = llm.hosting.scale_to_zero
    return str(zero.active_hours) if zero is not None and zero.active_hours is not None else None


def _private(c: AppConfig) -> PrivateSettings:
    network = None
    if c.vpc == "create":
        network = NetworkSettings(create=True)
    elif c.vpc_id is not None:
        network = NetworkSettings(vpc_id=c.vpc_id, subnet_ids=c.subnet_ids, security_group_ids=c.security_group_ids)
    return PrivateSettings(
        model_data=S3ModelData(c.model_data, c.model_data_kms_key) if c.model_data else None,
        network=network,
        kms_key=c.kms_key,
        data_capture=c.data_capture,
        data_capture_days=c.data_capture_days,
        capture_readers=c.capture_readers,
    )


def _scaling(c: AppConfig) -> dict[str, Any]:
    """Hosting fields of the scaling shape the config asks for: scale to zero, autoscaling, or neither."""
    if c.scale_to_zero:
        return {
            "scale_to_zero": ScaleToZero(
                max_instances=c.max_instances if c.max_instances is not None else c.instance_count,
                idle_minutes=c.idle_minutes if c.idle_minutes is not None else 15,
                target_concurrency=c.target_concurrency if c.target_concurrency is not None else 4,
                scale_out_cooldown=c.scale_out_cooldown if c.scale_out_cooldown is not None else 60,
                active_hours=c.active_hours,
            )
        }
    low = c.min_instances if c.min_instances is not None else c.instance_count
    high = c.max_instances if c.max_instances is not None else c.instance_count
    if high > low:
        return {
            "instance_scaling": InstanceScaling(
                min_instances=low,
                max_instances=high,
                target_concurrency=c.target_concurrency if c.target_concurrency is not None else 4,
                scale_out_cooldown=c.scale_out_cooldown if c.scale_out_cooldown is not None else 60,
                scale_in_cooldown=c.scale_in_cooldown if c.scale_in_cooldown is not None else 600,
            )
        }
    return {}


def _routing(c: AppConfig) -> Routing | None:
    """The variant's routing when routing_strategy is given; None keeps each shape's routing as it was."""
    if c.routing_strategy is None:
        return None
    return Routing(c.routing_strategy, prefix_length=c.prefix_length, concurrency_threshold=c.prefix_concurrency)


def _description(c: AppConfig) -> str:
    jumpstart = c.deployment == "jumpstart"
    model = c.jumpstart_model if jumpstart else c.model.hf_model_id
    engine = "SageMaker JumpStart" if jumpstart else ("vLLM" if c.engine == "vllm" else "Hugging Face TGI")
    where = f"{c.instance_count} x {c.instance_type}" if c.instance_type else "the spec's default instance"
    return f"{model} on {engine} ({where}) on a SageMaker real-time endpoint, behind a streaming chat API"


_HELLO = '{"model":"tgi","messages":[{"role":"user","content":"Hello"}]}'
# Secrets never go on curl's command line (any local user can read argv with ps): the shell builtin printf pipes
# them into `curl --config -`, and `aws configure export-credentials` (which also covers SSO and profiles) is
# evaluated into the shell's own environment. An empty session token gives an empty header, which curl drops.
_SIGV4_CONFIG = (
    'eval "$(aws configure export-credentials --format env)" && '
    """printf 'user = "%s:%s"\\nheader = "x-amz-security-token: %s"\\n' """
    '"$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "${AWS_SESSION_TOKEN:-}" | '
)
_API_KEY_CONFIG = """printf 'header = "x-api-key: %s"\\n' "$API_KEY" | """


def _examples(stack: LlmChatStack, auth: str) -> dict[str, tuple[str, str]]:
    """Ready-to-paste calls for the stack outputs (the README explains each)."""
    base = f"{stack.chat.url}v1"
    if auth == "iam":
        curl = (
            f"{_SIGV4_CONFIG}curl --config - --aws-sigv4 aws:amz:{stack.region}:execute-api "
            f"-H 'content-type: application/json' -d '{_HELLO}' {base}/chat/completions"
        )
        client = (
            f'OpenAI(base_url="{base}", api_key="unused", '
            f'http_client=httpx.Client(auth=SigV4(region="{stack.region}"), timeout=900))  # llmchat/sigv4.py'
        )
        return {
            "CurlExample": (curl, "Ready-to-paste request signed with your AWS credentials (kept out of argv)"),
            "OpenAiExample": (client, "openai Python client settings"),
        }
    curl = f"{_API_KEY_CONFIG}curl --config - -H 'content-type: application/json' -d '{_HELLO}' {base}/chat/completions"
    client = f'OpenAI(base_url="{base}", api_key="unused", default_headers={{"x-api-key": API_KEY}})'
    examples = {
        "CurlExample": (curl, "Ready-to-paste request (export API_KEY first; it stays out of argv)"),
        "OpenAiExample": (client, "openai Python client settings"),
    }
    for name, key in stack.chat.api_keys.items():
        command = f"aws apigateway get-api-key --include-value --query value --output text --api-key {key.key_id}"
        who = f" of consumer {name}" if name else ""
        examples[f"ApiKeyCommand{consumer_suffix(name)}"] = (command, f"Prints the API key{who}")
    return examples
