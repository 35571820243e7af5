"""The deployable unit: one SageMaker endpoint (TGI or JumpStart) and, in front of it, the chat API."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk

from constructs import Construct
from constructs.chat_api import ApiLimits, ChatApi, ChatSettings
from constructs.jumpstart_endpoint import JumpStartEndpoint, JumpStartModelRef, jumpstart_hosting
from constructs.jumpstart_lock import load_locked_model
from constructs.sagemaker_common import Hosting
from constructs.tgi_endpoint import TgiEndpoint, TgiModel
from stacks.config import AppConfig


class LlmChatStack(cdk.Stack):
    """Composes the endpoint and emits what a user needs to call it."""

    def __init__(self, scope: Construct, construct_id: str, *, config: AppConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, description=_description(config), **kwargs)
        self.config = config
        self.llm = self._jumpstart(config) if config.deployment == "jumpstart" else self._tgi(config)
        max_input, max_total = self._token_limits()
        self.chat = ChatApi(
            self,
            "Chat",
            endpoint=self.llm,
            settings=ChatSettings(
                model_id=self.model_id,
                prompt_family=config.model.prompt_family,
                max_input_tokens=max_input,
                max_total_tokens=max_total,
            ),
            limits=ApiLimits(
                auth=config.api_auth,
                rate_limit=config.api_rate_limit,
                burst_limit=config.api_burst_limit,
                quota_per_day=config.api_quota_per_day,
                reserved_concurrency=config.reserved_concurrency,
                daily_token_budget=config.daily_token_budget,
                max_streams_per_caller=config.max_streams_per_caller,
            ),
        )
        cdk.CfnOutput(self, "EndpointName", value=self.llm.endpoint_name, description="SageMaker endpoint name")
        cdk.CfnOutput(self, "ModelId", value=self.model_id, description="Model served by the endpoint")
        cdk.CfnOutput(self, "ImageUri", value=self.llm.image_uri, description="Serving container image")
        cdk.CfnOutput(self, "InstanceType", value=self.llm.hosting.instance_type, description="Instance type")
        cdk.CfnOutput(self, "ApiUrl", value=self.chat.url, description="Chat API base URL")
        for name, (value, description) in _examples(self, config.api_auth).items():
            cdk.CfnOutput(self, name, value=value, description=description)

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
        return JumpStartEndpoint(
            self,
            "Llm",
            model=JumpStartModelRef(c.jumpstart_model, c.jumpstart_version, c.accept_eula),
            hosting=hosting,
        )

    def _tgi(self, c: AppConfig) -> TgiEndpoint:
        assert c.instance_type is not None
        hosting = Hosting(
            instance_type=c.instance_type,
            instance_count=c.instance_count,
            health_check_timeout=c.health_check_timeout if c.health_check_timeout is not None else 600,
            model_download_timeout=c.model_download_timeout,
            volume_size=c.volume_size,
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
                extra_env=c.extra_env,
            ),
            hosting=hosting,
        )


def _description(c: AppConfig) -> str:
    jumpstart = c.deployment == "jumpstart"
    model = c.jumpstart_model if jumpstart else c.model.hf_model_id
    engine = "SageMaker JumpStart" if jumpstart else "Hugging Face TGI"
    where = f"{c.instance_count} x {c.instance_type}" if c.instance_type else "the spec's default instance"
    return f"{model} on {engine} ({where}) on a SageMaker real-time endpoint, behind a streaming chat API"


_HELLO = '{"model":"tgi","messages":[{"role":"user","content":"Hello"}]}'


def _examples(stack: LlmChatStack, auth: str) -> dict[str, tuple[str, str]]:
    """Ready-to-paste calls for the stack outputs (the README explains each)."""
    base = f"{stack.chat.url}v1"
    if auth == "iam":
        curl = (
            f"curl --aws-sigv4 aws:amz:{stack.region}:execute-api "
            '--user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H "x-amz-security-token: $AWS_SESSION_TOKEN" '
            f"-H 'content-type: application/json' -d '{_HELLO}' {base}/chat/completions"
        )
        client = f'OpenAI(base_url="{base}", api_key="unused", http_client=SigV4Client())  # README: SigV4 client'
        return {
            "CurlExample": (curl, "Ready-to-paste request signed with your AWS credentials"),
            "OpenAiExample": (client, "openai Python client settings"),
        }
    curl = f"curl -H \"x-api-key: $API_KEY\" -H 'content-type: application/json' -d '{_HELLO}' {base}/chat/completions"
    client = f'OpenAI(base_url="{base}", api_key="unused", default_headers={{"x-api-key": API_KEY}})'
    key_id = stack.chat.api_key.key_id
    command = f"aws apigateway get-api-key --include-value --query value --output text --api-key {key_id}"
    return {
        "CurlExample": (curl, "Ready-to-paste request (export API_KEY first)"),
        "OpenAiExample": (client, "openai Python client settings"),
        "ApiKeyCommand": (command, "Prints the API key"),
    }
