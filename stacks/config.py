"""The app's one typed, validated configuration, read once from CDK context by app.py.

Every key a user may pass with `-c key=value` (or set in cdk.json) is declared once in stacks/options.py with its
parser, default, shape and doc; a key not declared there, or a value it does not accept, fails synth with a
message that names the key, the value and what is allowed. This module turns the validated options into the frozen
AppConfig the stacks receive.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from constructs.api.guardrail import GuardrailChoice
from constructs.facts.presets import ModelPreset
from constructs.hosting.active_hours import ActiveHours
from stacks import option_types as t
from stacks.option_types import ConfigError
from stacks.options import APPLIES_WHEN, ContextOptions, option

__all__ = ["APPLIES_WHEN", "CONTEXT_KEYS", "AppConfig", "ConfigError", "from_context", "identity_from_context"]

# key -> (parser, one-line doc), derived from the schema (app.py and tests read the key names).
CONTEXT_KEYS: dict[str, tuple[t.Parser, str]] = {
    k: (option(k).parse, str(f.description)) for k, f in ContextOptions.model_fields.items()
}


@dataclass(frozen=True)
class AppConfig:
    """The typed view the stacks receive; defaults, parsing and rules live in stacks/options.py."""

    model: ModelPreset
    deployment: str
    instance_type: str | None
    instance_count: int
    num_gpus: int | None
    tgi_version: str | None
    quantize: str | None
    max_input_tokens: int
    max_total_tokens: int
    max_batch_prefill_tokens: int | None
    max_batch_total_tokens: int | None
    health_check_timeout: int | None
    model_download_timeout: int | None
    volume_size: int | None
    hf_token_secret: str | None
    extra_env: Mapping[str, str]
    region: str | None
    account: str | None
    stack_name: str
    api_auth: str
    api_rate_limit: int
    api_burst_limit: int
    api_quota_per_day: int
    reserved_concurrency: int | None
    api_key_rate_limit: int | None
    api_key_burst_limit: int | None
    daily_token_budget: int | None
    max_streams_per_caller: int | None
    max_requests_per_caller: int | None
    iam_requests_per_minute: int | None
    caller_key: str
    default_max_tokens: int | None
    responses_store: bool
    responses_retention_days: int
    jumpstart_model: str | None
    jumpstart_version: str
    accept_eula: bool
    model_data: str | None
    model_data_kms_key: str | None
    vpc: str | None
    vpc_id: str | None
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]
    kms_key: str | None
    data_capture: bool
    data_capture_days: int
    capture_readers: tuple[str, ...]
    engine: str
    vllm_version: str | None
    vllm_image: str
    gpu_memory_utilization: float | None
    max_num_batched_tokens: int | None
    lmcache: bool
    trust_remote_code: bool
    tool_call_parser: str | None
    reasoning_parser: str | None
    image_url_domains: tuple[str, ...]
    pipeline: bool
    pipeline_connection_arn: str | None
    pipeline_repo: str | None
    pipeline_branch: str
    pipeline_self_mutation: bool
    cfn_validation: bool
    guardrail: GuardrailChoice | None  # Bedrock guardrail on prompts and answers (stacks/guardrail_config.py)
    scale_to_zero: bool
    idle_minutes: int | None
    active_hours: ActiveHours | None
    wake_wait_seconds: int | None
    min_instances: int | None
    max_instances: int | None
    target_concurrency: int | None
    scale_out_cooldown: int | None
    scale_in_cooldown: int | None
    deployment_strategy: str
    routing_strategy: str | None  # None: each hosting shape's routing before the option (constructs/hosting/routing.py)
    prefix_length: int | None
    prefix_concurrency: int | None
    alarm_email: str | None
    api_keys: tuple[str, ...]
    # Several models on one endpoint (empty / None: one model, `model`): the chat models, the first being `model`
    # and the base of the adapters; LoRA adapters (name, s3 folder); the embedding model.
    models: tuple[ModelPreset, ...] = ()
    adapters: tuple[tuple[str, str], ...] = ()
    embedding_model: ModelPreset | None = None


_RESOLVED = ("model", "models", "embedding_model")


def from_context(context: Mapping[str, Any]) -> AppConfig:
    """Parse and cross-check every key; the first problem found is raised as ConfigError."""
    opts = ContextOptions.read(context)
    model, engine, instance_type, jumpstart_model = opts.resolved()
    count, low, high = opts.instances()
    values = {f.name: getattr(opts, f.name) for f in fields(AppConfig) if f.name not in _RESOLVED}
    models, embedding = opts.several_models()
    values.update(
        engine=engine,
        instance_type=instance_type,
        max_input_tokens=opts.input_tokens(),
        reserved_concurrency=opts.concurrency(),
        jumpstart_model=jumpstart_model,
        instance_count=count,
        min_instances=low,
        max_instances=high,
        models=models,
        embedding_model=embedding,
    )
    return AppConfig(model=model, **values)


def identity_from_context(context: Mapping[str, Any]) -> tuple[str, str | None, str | None]:
    """Only what names a deployed stack (stack_name, region, account), ignoring every other key.

    For commands that act on an existing stack (`cdk destroy`): the rest of the config may have changed or
    be missing since the stack was created, and must not stand in the way of removing it.
    """
    name = option("stack_name").parse("stack_name", context["stack_name"]) if "stack_name" in context else None
    region = context.get("region")
    account = context.get("account")
    return (
        name or str(ContextOptions.model_fields["stack_name"].default),
        t.pattern(t.REGION, "an AWS region like us-east-1")("region", region) if region else None,
        option("account").parse("account", account) if account else None,
    )
