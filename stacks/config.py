"""The app's one typed, validated configuration, read once from CDK context by app.py.

Every key a user may pass with `-c key=value` (or set in cdk.json) is declared in CONTEXT_KEYS with its default
and what it accepts; a key not declared there, or a value it does not accept, fails synth with a message that
names the key, the value and what is allowed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from constructs.catalog import DEFAULT_MODEL, PRESETS, QUANTIZE_CHOICES, ModelPreset
from constructs.sdk_data import gpu_table, image_versions

DEPLOYMENTS = ("tgi", "jumpstart")
API_AUTH_MODES = ("iam", "api_key")
PROMPT_FAMILIES = ("falcon", "chatml", "llama2", "mistral")
HF_MODEL_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")
REGION = re.compile(r"^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$")
ACCOUNT = re.compile(r"^\d{12}$")
SECRET_REF = re.compile(r"^(arn:aws[\w-]*:secretsmanager:[\w-]+:\d{12}:secret:[\w/+=.@-]+|[\w/+=.@-]{1,512})$")
STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,1023}$")


class ConfigError(ValueError):
    """A context key or value the app does not accept."""


@dataclass(frozen=True)
class AppConfig:
    model: ModelPreset
    deployment: str = "tgi"
    instance_type: str | None = "ml.g5.12xlarge"
    instance_count: int = 1
    num_gpus: int | None = None
    tgi_version: str | None = None
    quantize: str | None = None
    max_input_tokens: int = 1024
    max_total_tokens: int = 2048
    max_batch_prefill_tokens: int | None = None
    max_batch_total_tokens: int | None = None
    health_check_timeout: int | None = None  # TGI: 600 s; JumpStart: the spec's
    model_download_timeout: int | None = None
    volume_size: int | None = None
    hf_token_secret: str | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    region: str | None = None
    account: str | None = None
    stack_name: str = "LlmChat"
    api_auth: str = "iam"
    api_rate_limit: int = 10
    api_burst_limit: int = 20
    api_quota_per_day: int = 10_000
    reserved_concurrency: int | None = None
    daily_token_budget: int | None = None
    max_streams_per_caller: int | None = None
    jumpstart_model: str | None = None
    jumpstart_version: str = "*"
    accept_eula: bool = False


def _fail(key: str, value: Any, allowed: str) -> ConfigError:
    return ConfigError(f"context key {key!r}: {value!r} is not allowed; {allowed}")


def _int(lo: int, hi: int) -> Callable[[str, Any], int]:
    def parse(key: str, value: Any) -> int:
        if isinstance(value, bool) or not (
            isinstance(value, int) or (isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value))
        ):
            raise _fail(key, value, f"expected a whole number from {lo} to {hi}")
        number = int(value)
        if not lo <= number <= hi:
            raise _fail(key, value, f"expected a whole number from {lo} to {hi}")
        return number

    return parse


def _float(lo: float, hi: float) -> Callable[[str, Any], float]:
    def parse(key: str, value: Any) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise _fail(key, value, f"expected a number from {lo} to {hi}") from None
        if isinstance(value, bool) or not lo <= number <= hi:
            raise _fail(key, value, f"expected a number from {lo} to {hi}")
        return number

    return parse


def _bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _fail(key, value, "expected true or false")


def _choice(choices: tuple[str, ...]) -> Callable[[str, Any], str]:
    def parse(key: str, value: Any) -> str:
        if value not in choices:
            raise _fail(key, value, f"allowed values: {', '.join(choices)}")
        return str(value)

    return parse


def _pattern(regex: re.Pattern[str], what: str) -> Callable[[str, Any], str]:
    def parse(key: str, value: Any) -> str:
        if not isinstance(value, str) or not regex.fullmatch(value):
            raise _fail(key, value, f"expected {what}")
        return value

    return parse


def _instance_type(key: str, value: Any) -> str:
    known = gpu_table()
    if value not in known:
        raise _fail(key, value, f"GPU instance types the SageMaker SDK knows: {', '.join(sorted(known))}")
    return str(value)


def _tgi_version(key: str, value: Any) -> str:
    versions = image_versions("huggingface-llm")
    if value not in versions:
        raise _fail(key, value, f"TGI versions with a SageMaker DLC: {', '.join(versions)}")
    return str(value)


def _model(key: str, value: Any) -> str:
    if value in PRESETS or (isinstance(value, str) and HF_MODEL_ID.fullmatch(value)):
        return str(value)
    raise _fail(key, value, f"a preset ({', '.join(PRESETS)}) or a Hugging Face model id like 'org/name'")


def _extra_env(key: str, value: Any) -> dict[str, str]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise _fail(
                key, value, 'expected a JSON object of strings, e.g. {"MAX_CONCURRENT_REQUESTS":"64"}'
            ) from None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and ENV_NAME.fullmatch(k) and isinstance(v, str | int | float) for k, v in value.items()
    ):
        raise _fail(key, value, 'expected a JSON object of strings, e.g. {"MAX_CONCURRENT_REQUESTS":"64"}')
    secretish = [k for k in value if re.search(r"TOKEN|SECRET|PASSWORD|KEY", k, re.IGNORECASE)]
    if secretish:
        raise _fail(key, value, f"{', '.join(secretish)} look like secrets: pass a token with hf_token_secret")
    return {k: str(v) for k, v in value.items()}


# key -> (parser, help shown in errors and the README)
CONTEXT_KEYS: dict[str, tuple[Callable[[str, Any], Any], str]] = {
    "model": (_model, f"catalog preset or Hugging Face model id (default {DEFAULT_MODEL})"),
    "model_params_b": (_float(0.01, 2000), "model size in billions of parameters (required for non-presets)"),
    "prompt_family": (_choice(PROMPT_FAMILIES), "chat prompt format (presets: falcon; others: chatml)"),
    "deployment": (_choice(DEPLOYMENTS), "tgi (default) or jumpstart"),
    "instance_type": (_instance_type, "SageMaker GPU instance type (default: the preset's, ml.g5.12xlarge)"),
    "instance_count": (_int(1, 20), "instances behind the endpoint (default 1)"),
    "num_gpus": (_int(1, 8), "SM_NUM_GPUS override, at most the instance's GPU count"),
    "tgi_version": (_tgi_version, "TGI DLC version (default: newest in the SDK)"),
    "quantize": (_choice(QUANTIZE_CHOICES), "HF_MODEL_QUANTIZE (default none)"),
    "max_input_tokens": (_int(1, 1_000_000), "MAX_INPUT_TOKENS (default 1024)"),
    "max_input_length": (_int(1, 1_000_000), "alias of max_input_tokens (the original guide's name)"),
    "max_total_tokens": (_int(2, 1_000_000), "MAX_TOTAL_TOKENS (default 2048)"),
    "max_batch_prefill_tokens": (_int(1, 10_000_000), "MAX_BATCH_PREFILL_TOKENS (default max(4096, input))"),
    "max_batch_total_tokens": (_int(1, 100_000_000), "MAX_BATCH_TOTAL_TOKENS (default: TGI infers it)"),
    "health_check_timeout": (_int(60, 3600), "start-up health-check timeout, s (TGI 600; JumpStart: the spec's)"),
    "model_download_timeout": (_int(60, 3600), "model data download timeout, s (default SageMaker's)"),
    "volume_size": (_int(1, 512), "EBS volume GB, only for instance types without local NVMe"),
    "hf_token_secret": (_pattern(SECRET_REF, "a Secrets Manager secret name or ARN"), "HF token secret"),
    "extra_env": (_extra_env, "JSON object of extra container environment variables"),
    "region": (
        _pattern(REGION, "an AWS region like us-east-1"),
        "pin the stack's region (default: agnostic)",
    ),
    "account": (
        _pattern(ACCOUNT, "a 12-digit AWS account id"),
        "pin the stack's account (default: agnostic)",
    ),
    "stack_name": (_pattern(STACK_NAME, "a CloudFormation stack name"), "stack name (default LlmChat)"),
    "api_auth": (_choice(API_AUTH_MODES), "iam (SigV4, default) or api_key"),
    "api_rate_limit": (_int(1, 10_000), "API steady-state requests/s (default 10)"),
    "api_burst_limit": (_int(1, 10_000), "API burst (default 20)"),
    "api_quota_per_day": (_int(1, 100_000_000), "api_key mode: requests per key per day (default 10000)"),
    "reserved_concurrency": (_int(1, 1000), "chat Lambda reserved concurrency (default unreserved)"),
    "daily_token_budget": (_int(1, 10**12), "tokens per caller per UTC day (default: no budget)"),
    # Each slot is one item; a caller at its limit costs one failed conditional write per slot: keep N small.
    "max_streams_per_caller": (_int(1, 100), "concurrent streamed answers per caller (default: no limit)"),
    "jumpstart_model": (_pattern(re.compile(r"^[\w.\-]+$"), "a JumpStart model id"), "JumpStart model id"),
    "jumpstart_version": (_pattern(re.compile(r"^(\*|[\w.\-]+)$"), "'*' or a version"), "default *"),
    "accept_eula": (_bool, "accept the JumpStart model's EULA (default false)"),
}


def _is_ours(key: str) -> bool:
    # The CLI and feature flags use namespaced keys ("@aws-cdk/...", "aws:cdk:...", "cdk-..."); ours are bare.
    return not (key.startswith("@") or ":" in key or key.startswith("cdk") or key.startswith("aws-cdk"))


def from_context(context: Mapping[str, Any]) -> AppConfig:
    """Parse and cross-check every key; the first problem found is raised as ConfigError."""
    unknown = sorted(k for k in context if _is_ours(k) and k not in CONTEXT_KEYS)
    if unknown:
        raise ConfigError(
            f"unknown context key(s) {', '.join(map(repr, unknown))}; known keys: {', '.join(CONTEXT_KEYS)}"
        )
    v: dict[str, Any] = {
        k: CONTEXT_KEYS[k][0](k, context[k]) for k in CONTEXT_KEYS if k in context and context[k] is not None
    }

    if "max_input_length" in v:
        if "max_input_tokens" in v and v["max_input_tokens"] != v["max_input_length"]:
            raise ConfigError("context keys 'max_input_tokens' and 'max_input_length' disagree; give one of them")
        v["max_input_tokens"] = v.pop("max_input_length")

    model = _resolve_model(v.pop("model", DEFAULT_MODEL), v.pop("model_params_b", None), v.pop("prompt_family", None))
    if v.get("deployment", "tgi") == "tgi":
        v.setdefault("instance_type", model.default_instance_type)
    else:
        v.setdefault("instance_type", None)  # the JumpStart spec's default, read from the lock

    max_input = v.get("max_input_tokens", 1024)
    max_total = v.get("max_total_tokens", 2048)
    if max_total <= max_input:
        raise _fail("max_total_tokens", max_total, f"must be greater than max_input_tokens ({max_input})")
    prefill = v.get("max_batch_prefill_tokens")
    if prefill is not None and prefill < max_input:
        raise _fail("max_batch_prefill_tokens", prefill, f"must be at least max_input_tokens ({max_input})")
    batch_total = v.get("max_batch_total_tokens")
    if batch_total is not None and batch_total < max_total:
        raise _fail("max_batch_total_tokens", batch_total, f"must be at least max_total_tokens ({max_total})")

    gpus = gpu_table()[v["instance_type"]].count if v["instance_type"] else 8
    if v.get("num_gpus", 0) > gpus:
        raise _fail("num_gpus", v["num_gpus"], f"{v['instance_type']} has {gpus} GPU(s)")
    if model.gated and "hf_token_secret" not in v and v.get("deployment", "tgi") == "tgi":
        raise ConfigError(
            f"model {model.hf_model_id!r} is gated on the Hugging Face Hub: accept its licence there and pass a "
            "token stored in Secrets Manager with -c hf_token_secret=<secret name or ARN>"
        )
    if v.get("api_burst_limit", 20) < v.get("api_rate_limit", 10):
        raise _fail("api_burst_limit", v.get("api_burst_limit"), "must be at least api_rate_limit")
    streams, reserved = v.get("max_streams_per_caller"), v.get("reserved_concurrency")
    if streams is not None and reserved is not None and streams > reserved:
        raise _fail("max_streams_per_caller", streams, f"must be at most reserved_concurrency ({reserved})")
    if v.get("deployment") == "jumpstart" and "jumpstart_model" not in v:
        if model.jumpstart_model is None:
            raise ConfigError(
                f"context key 'jumpstart_model' is required with deployment=jumpstart for model {model.name!r}; "
                "presets with a JumpStart id: "
                + ", ".join(f"{p.name} ({p.jumpstart_model})" for p in PRESETS.values() if p.jumpstart_model)
            )
        v["jumpstart_model"] = model.jumpstart_model
    return AppConfig(model=model, **v)


def _resolve_model(name: str, params_b: float | None, family: str | None) -> ModelPreset:
    if name in PRESETS:
        preset = PRESETS[name]
        if params_b is not None:
            raise _fail("model_params_b", params_b, f"only for models outside the catalog; {name} is a preset")
        return preset if family is None else ModelPreset(**{**preset.__dict__, "prompt_family": family})
    if params_b is None:
        raise ConfigError(
            f"context key 'model_params_b' is required for {name!r}, which is not a catalog preset "
            f"({', '.join(PRESETS)}): give its size in billions of parameters, e.g. -c model_params_b=7.2"
        )
    return ModelPreset(
        name=name,
        hf_model_id=name,
        params_b=params_b,
        default_instance_type="ml.g5.12xlarge",
        prompt_family=family or "chatml",
    )
