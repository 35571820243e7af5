"""The app's one typed, validated configuration, read once from CDK context by app.py.

Every key a user may pass with `-c key=value` (or set in cdk.json) is declared once in stacks/options.py with its
parser, default, shape and doc; a key not declared there, or a value it does not accept, fails synth with a
message that names the key, the value and what is allowed. This module resolves what depends on the model (the
catalog, models.lock.json, GPU facts) and returns the frozen AppConfig the stacks receive.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from constructs.active_hours import ActiveHours
from constructs.catalog import (
    PRESETS,
    VLLM_IMAGE_FRAMEWORKS,
    VLLM_QUANTIZE_CHOICES,
    Architecture,
    ModelPreset,
    default_instance,
)
from constructs.model_lock import command_for, locked_model
from constructs.quantization import quantize_problem
from constructs.sdk_data import gpu_table, image_versions
from stacks import option_types as t
from stacks.option_types import ConfigError, fail
from stacks.options import APPLIES_WHEN, ENGINE_ONLY, ContextOptions, option

__all__ = ["APPLIES_WHEN", "CONTEXT_KEYS", "AppConfig", "ConfigError", "from_context", "identity_from_context"]

# key -> (parser, one-line doc), derived from the schema (app.py and tests read the key names).
CONTEXT_KEYS: dict[str, tuple[t.Parser, str]] = {
    k: (option(k).parse, str(f.description)) for k, f in ContextOptions.model_fields.items()
}
# The proxy family for a locked model whose tokenizer has no chat template (the engine has nothing to render):
# ChatML, the default every non-preset model got before `server` existed, so such models behave as they did.
NO_TEMPLATE_FAMILY = "chatml"
# TGI dispatches OpenAI chat JSON posted to /invocations from 2.4.0 on (router/src/sagemaker.rs, PR #2683,
# checked at v3.3.6: an untagged SagemakerRequest of Generate | Chat | Completion; no MESSAGES_API_ENABLED needed).
TGI_MESSAGES_ON_INVOCATIONS = (2, 4, 0)


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
    scale_to_zero: bool
    idle_minutes: int | None
    active_hours: ActiveHours | None
    min_instances: int | None
    max_instances: int | None
    target_concurrency: int | None
    scale_out_cooldown: int | None
    scale_in_cooldown: int | None
    deployment_strategy: str
    alarm_email: str | None
    api_keys: tuple[str, ...]


def from_context(context: Mapping[str, Any]) -> AppConfig:
    """Parse and cross-check every key; the first problem found is raised as ConfigError."""
    opts = ContextOptions.read(context)
    given = opts.model_fields_set
    model = _resolve_model(opts.model, opts.model_params_b, opts.prompt_family)
    engine = _check_engine(opts, model)
    problem = quantize_problem(
        opts.quantize,
        model_id=model.hf_model_id,
        checkpoint_quantization=None,
        checkpoint_known=_plain_checkpoint(model),
    )
    if problem:
        raise fail("quantize", opts.quantize, problem)
    instance_type = opts.instance_type
    if "instance_type" not in given and opts.deployment == "tgi":
        instance_type = default_instance(
            model,
            engine=engine,
            quantize=opts.quantize,
            max_total_tokens=opts.max_total_tokens,
            gpu_memory_utilization=opts.gpu_memory_utilization,
        )
    # Otherwise None with JumpStart: the spec's default, read from the lock.

    max_input, max_total, default_max = opts.input_tokens(), opts.max_total_tokens, opts.default_max_tokens
    if default_max is not None and default_max >= max_total:
        raise fail("default_max_tokens", default_max, f"must be less than max_total_tokens ({max_total})")
    if default_max is not None and engine == "tgi" and default_max > max_total - max_input:
        raise fail(
            "default_max_tokens",
            default_max,
            f"TGI generates at most max_total_tokens - max_input_tokens = {max_total - max_input} new tokens",
        )
    gpus = gpu_table()[instance_type].count if instance_type else 8
    if opts.num_gpus is not None and opts.num_gpus > gpus:
        raise fail("num_gpus", opts.num_gpus, f"{instance_type} has {gpus} GPU(s)")
    if model.gated and not given & {"hf_token_secret", "model_data"} and opts.deployment == "tgi":
        raise ConfigError(
            f"model {model.hf_model_id!r} is gated on the Hugging Face Hub: accept its licence there and pass a "
            "token stored in Secrets Manager with -c hf_token_secret=<secret name or ARN>"
        )
    jumpstart_model = opts.jumpstart_model
    if opts.deployment == "jumpstart" and jumpstart_model is None:
        if model.jumpstart_model is None:
            raise ConfigError(
                f"context key 'jumpstart_model' is required with deployment=jumpstart for model {model.name!r}; "
                "presets with a JumpStart id: "
                + ", ".join(f"{p.name} ({p.jumpstart_model})" for p in PRESETS.values() if p.jumpstart_model)
            )
        jumpstart_model = model.jumpstart_model
    count, low, high = opts.instances()
    values = {f.name: getattr(opts, f.name) for f in fields(AppConfig) if f.name != "model"}
    values.update(
        engine=engine,
        instance_type=instance_type,
        max_input_tokens=max_input,
        reserved_concurrency=opts.concurrency(),
        jumpstart_model=jumpstart_model,
        instance_count=count,
        min_instances=low,
        max_instances=high,
    )
    return AppConfig(model=model, **values)


def preset_for(name: str) -> ModelPreset | None:
    """The preset `name` names, by preset name or by its Hugging Face id (Hub ids are case-insensitive)."""
    if name in PRESETS:
        return PRESETS[name]
    return next((p for p in PRESETS.values() if p.hf_model_id.lower() == name.lower()), None)


# How far a user's model_params_b may be from a preset's count and still mean the same checkpoint (rounding).
_PARAMS_TOLERANCE = 0.02


def _resolve_model(name: str, params_b: float | None, family: str | None) -> ModelPreset:
    preset = preset_for(name)
    if preset is not None:
        # A preset's Hub id gets the preset's facts (size, heads, prompt format), not the generic defaults.
        if params_b is not None and (name == preset.name or abs(params_b / preset.params_b - 1) > _PARAMS_TOLERANCE):
            raise fail(
                "model_params_b",
                params_b,
                f"only for models outside the catalog; {preset.name} is a preset ({preset.hf_model_id}, "
                f"{preset.params_b:g}B parameters): drop model_params_b",
            )
        preset = _with_locked_revision(preset)
        return preset if family is None else ModelPreset(**{**preset.__dict__, "prompt_family": family})
    locked = _locked_preset(name, params_b, family)
    if locked is not None:
        return locked
    if params_b is None:
        raise ConfigError(
            f"context key 'model_params_b' is required for {name!r}, which is neither a catalog preset "
            f"({', '.join(PRESETS)}) nor in models.lock.json: run `{command_for(name)}` (reads its size, "
            "architecture and chat template from the Hub) or give its size, e.g. -c model_params_b=7.2"
        )
    return ModelPreset(
        name=name,
        hf_model_id=name,
        params_b=params_b,
        default_instance_type="ml.g5.12xlarge",
        prompt_family=family or "server",
    )


def _plain_checkpoint(model: ModelPreset) -> bool:
    """True when synth knows the checkpoint holds plain bf16/fp16/fp32 weights (a preset, or the lock's dtype)."""
    if model.name in PRESETS:
        return True
    locked = locked_model(model.hf_model_id)
    return locked is not None and locked.dtype.upper() in ("BF16", "F16", "F32")


def _with_locked_revision(preset: ModelPreset) -> ModelPreset:
    """A preset whose Hub id is in models.lock.json is pinned to the locked revision."""
    locked = locked_model(preset.hf_model_id)
    if locked is None or preset.revision is not None:
        return preset
    return ModelPreset(**{**preset.__dict__, "revision": locked.revision})


def _locked_preset(name: str, params_b: float | None, family: str | None) -> ModelPreset | None:
    """A Hub model from models.lock.json as a preset: size, architecture, template and revision from the lock."""
    locked = locked_model(name)
    if locked is None:
        return None
    if params_b is not None:
        raise fail("model_params_b", params_b, f"not needed for {name}: models.lock.json has its size")
    arch = (
        Architecture(
            layers=locked.layers,  # type: ignore[arg-type]
            attention_heads=locked.attention_heads,  # type: ignore[arg-type]
            kv_heads=locked.kv_heads,  # type: ignore[arg-type]
            head_dim=locked.head_dim,  # type: ignore[arg-type]
        )
        if locked.has_architecture
        else None
    )
    return ModelPreset(
        name=name,
        hf_model_id=name,
        params_b=locked.params_b,
        default_instance_type=None,
        prompt_family=family or ("server" if locked.chat_template else NO_TEMPLATE_FAMILY),
        architecture=arch,
        gated=locked.gated,
        context_length=locked.context_length,
        revision=locked.revision,
        trust_remote_code=locked.trust_remote_code,
        chat_template=locked.chat_template,
    )


def _check_engine(opts: ContextOptions, model: ModelPreset) -> str:
    """Resolve the engine and refuse keys, families and models it cannot serve."""
    jumpstart = opts.deployment == "jumpstart"
    given = opts.model_fields_set
    if jumpstart and "engine" in given and opts.engine != "tgi":
        raise fail("engine", opts.engine, "deployment=jumpstart runs the JumpStart spec's own TGI image")
    engine = opts.engine if "engine" in given else "tgi" if jumpstart else model.engine
    for key in opts.given():
        if ENGINE_ONLY.get(key, engine) != engine:
            raise fail(key, getattr(opts, key), f"it applies to engine={ENGINE_ONLY[key]}, not {engine}")
    if engine == "vllm" and opts.quantize is not None and opts.quantize not in VLLM_QUANTIZE_CHOICES:
        raise fail("quantize", opts.quantize, f"with engine=vllm allowed values: {', '.join(VLLM_QUANTIZE_CHOICES)}")
    if engine == "vllm" and opts.vllm_version is not None:
        framework = VLLM_IMAGE_FRAMEWORKS[opts.vllm_image]
        if opts.vllm_version not in image_versions(framework):
            raise fail(
                "vllm_version",
                opts.vllm_version,
                f"{framework} images exist for: {', '.join(image_versions(framework))}",
            )
    if model.prompt_family == "server" and not model.chat_template:
        raise fail(
            "prompt_family",
            "server",
            f"{model.hf_model_id}'s tokenizer has no chat template; use falcon, chatml, llama2 or mistral",
        )
    if model.prompt_family == "server" and engine == "tgi" and not jumpstart and opts.tgi_version:
        if t.version_tuple(opts.tgi_version) < TGI_MESSAGES_ON_INVOCATIONS:
            raise fail(
                "tgi_version",
                opts.tgi_version,
                "prompt_family=server needs TGI 2.4.0 or newer (OpenAI messages on /invocations)",
            )
    if model.trust_remote_code and not opts.trust_remote_code:
        raise ConfigError(
            f"model {model.hf_model_id!r} runs its own Python code from the Hub (auto_map in config.json): "
            "review it, then allow it explicitly with -c trust_remote_code=true"
        )
    return engine


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
