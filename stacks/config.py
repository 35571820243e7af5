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

from constructs import time_limits
from constructs.active_hours import IDLE_MINUTES_RANGE, ActiveHours
from constructs.catalog import (
    DEFAULT_MODEL,
    PRESETS,
    QUANTIZE_CHOICES,
    VLLM_IMAGE_FRAMEWORKS,
    VLLM_QUANTIZE_CHOICES,
    Architecture,
    ModelPreset,
    default_instance,
)
from constructs.deployment import STRATEGIES, resolve_strategy
from constructs.model_data import KMS_KEY_ARN, S3_PREFIX_URI
from constructs.model_lock import command_for, locked_model
from constructs.monitoring import EMAIL
from constructs.private_network import SECURITY_GROUP_ID, SUBNET_ID, VPC_ID
from constructs.quantization import quantize_problem
from constructs.regions import LWA_REGIONS, SUPPORTED_PARTITIONS
from constructs.sdk_data import gpu_table, image_aliases, image_versions, partition
from stacks.context_rules import AppliesWhen, check_applicability, is_cdk_key, unknown_keys_message
from stacks.pipeline_config import PIPELINE_KEYS, check_pipeline

DEPLOYMENTS = ("tgi", "jumpstart")
API_AUTH_MODES = ("iam", "api_key")
PROMPT_FAMILIES = ("falcon", "chatml", "llama2", "mistral", "server")
ENGINES = ("tgi", "vllm")
# The proxy family for a locked model whose tokenizer has no chat template (the engine has nothing to render):
# ChatML, the default every non-preset model got before `server` existed, so such models behave as they did.
NO_TEMPLATE_FAMILY = "chatml"
# TGI dispatches OpenAI chat JSON posted to /invocations from 2.4.0 on (router/src/sagemaker.rs, PR #2683,
# checked at v3.3.6: an untagged SagemakerRequest of Generate | Chat | Completion; no MESSAGES_API_ENABLED needed).
TGI_MESSAGES_ON_INVOCATIONS = (2, 4, 0)
PARSER_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# Keys that only one engine reads; giving one to the other engine is an error, not a silent no-op.
VLLM_ONLY_KEYS = (
    "vllm_version",
    "vllm_image",
    "gpu_memory_utilization",
    "max_num_batched_tokens",
    "lmcache",
    "tool_call_parser",
    "reasoning_parser",
    "image_url_domains",
)
TGI_ONLY_KEYS = ("tgi_version", "max_batch_prefill_tokens", "max_batch_total_tokens")
HF_MODEL_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")
REGION = re.compile(r"^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$")
ACCOUNT = re.compile(r"^\d{12}$")
SECRET_REF = re.compile(r"^(arn:aws[\w-]*:secretsmanager:[\w-]+:\d{12}:secret:[\w/+=.@-]+|[\w/+=.@-]{1,512})$")
STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,1023}$")
CONSUMER_NAME = re.compile(r"^(?=.{1,32}$)[a-z][a-z0-9]*(-[a-z0-9]+)*$")
MAX_API_KEYS = 50
# A DNS host name (RFC 1123 labels, at least two, the last not numeric so no IPv4 form slips through).
MEDIA_HOST = re.compile(r"^(?=.{1,253}$)((?!-)[a-z0-9-]{1,63}(?<!-)\.)+(?!-)(?=.*[a-z])[a-z0-9-]{1,63}(?<!-)$")


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
    # Default: the stage burst (from_context); None (-c reserved_concurrency=none) leaves the function unreserved.
    reserved_concurrency: int | None = 20
    # api_key mode: each key's usage-plan throttle; None: the stage's rate and burst shared by max(2, keys).
    api_key_rate_limit: int | None = None
    api_key_burst_limit: int | None = None
    daily_token_budget: int | None = None
    max_streams_per_caller: int | None = None
    max_requests_per_caller: int | None = None
    iam_requests_per_minute: int | None = None
    caller_key: str = "role"
    # Chat API: max_tokens for requests that give none (None: TGI paths 512, vLLM the rest of the context).
    default_max_tokens: int | None = None
    # /v1/responses state (docs/responses.md): off = stateless; on = a DynamoDB table of per-caller responses.
    responses_store: bool = False
    responses_retention_days: int = 30
    jumpstart_model: str | None = None
    jumpstart_version: str = "*"
    accept_eula: bool = False
    # Private deployments (README "Private deployments")
    model_data: str | None = None
    model_data_kms_key: str | None = None
    vpc: str | None = None
    vpc_id: str | None = None
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    kms_key: str | None = None
    data_capture: bool = False
    data_capture_days: int = 30
    capture_readers: tuple[str, ...] = ()
    engine: str = "tgi"
    vllm_version: str | None = None
    vllm_image: str = "huggingface"
    gpu_memory_utilization: float | None = None
    max_num_batched_tokens: int | None = None
    lmcache: bool = False
    trust_remote_code: bool = False
    tool_call_parser: str | None = None
    reasoning_parser: str | None = None
    image_url_domains: tuple[str, ...] = ()
    pipeline: bool = False
    pipeline_connection_arn: str | None = None
    pipeline_repo: str | None = None
    pipeline_branch: str = "main"
    pipeline_self_mutation: bool = False
    scale_to_zero: bool = False
    idle_minutes: int | None = None
    active_hours: ActiveHours | None = None
    # Issue 20 (wake at once, hold the request): with scale_to_zero, how long the chat API holds a call that meets
    # no capacity (WAKE_WAIT_SECONDS; None: time_limits.WAKE_WAIT_DEFAULT_SECONDS; 0: no wake, 503 at once).
    wake_wait_seconds: int | None = None
    min_instances: int | None = None
    max_instances: int | None = None
    target_concurrency: int | None = None
    scale_out_cooldown: int | None = None
    scale_in_cooldown: int | None = None
    deployment_strategy: str = "auto"
    alarm_email: str | None = None
    api_keys: tuple[str, ...] = ()


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


def _reserved(key: str, value: Any) -> int | None:
    """1-1000 reserved executions, or `none`. Lambda lets an account reserve all but 100 of its Region's
    concurrency quota (PutFunctionConcurrency, AWS Lambda API Reference): an account with a small quota needs
    `none` (or a quota increase)."""
    if isinstance(value, str) and value.lower() == "none":
        return None
    try:
        return _int(1, 1000)(key, value)
    except ConfigError:
        raise _fail(key, value, "expected a number from 1 to 1000, or none (unreserved)") from None


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
    aliases = image_aliases("huggingface-llm")  # "3.3" → "3.3.6", as the SDK's image_uris.retrieve resolves them
    if value not in versions and value not in aliases:
        raise _fail(
            key, value, f"TGI versions with a SageMaker DLC: {', '.join(versions)} (or an alias: {', '.join(aliases)})"
        )
    return str(value)


def _vllm_version(key: str, value: Any) -> str:
    known = sorted({ver for f in VLLM_IMAGE_FRAMEWORKS.values() for ver in image_versions(f)}, key=_version_tuple)
    if value not in known:
        raise _fail(key, value, f"vLLM versions with a SageMaker DLC: {', '.join(known)}")
    return str(value)


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def _region(key: str, value: Any) -> str:
    region = _pattern(REGION, "an AWS region like us-east-1")(key, value)
    if partition(region) not in SUPPORTED_PARTITIONS:
        raise _fail(
            key,
            value,
            f"it is in the {partition(region)} partition; supported partitions: {', '.join(SUPPORTED_PARTITIONS)} "
            "(the chat API's Lambda Web Adapter arm64 layer is not published there)",
        )
    if region not in LWA_REGIONS:
        raise _fail(key, value, f"regions where the Lambda Web Adapter layer is published: {', '.join(LWA_REGIONS)}")
    return region


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
    secretish = [k for k in value if _looks_secret(k)]
    if secretish:
        raise _fail(key, value, f"{', '.join(secretish)} look like secrets: pass a token with hf_token_secret")
    chatty = [k for k in ("LOG_LEVEL", "RUST_LOG") if re.search(r"debug|trace", str(value.get(k, "")), re.I)]
    if chatty:
        # TGI logs every prompt and answer at debug (router/src/server.rs: "Input: {}", "Output: {}", v3.3.6).
        raise _fail(key, value, f"{', '.join(chatty)} at debug/trace would log prompts and answers: use info or warn")
    clash = {k: EXTRA_ENV_OWNERS[k] for k in value if k in EXTRA_ENV_OWNERS}
    if clash:
        owners = ", ".join(f"{env} (set it with -c {owner})" for env, owner in clash.items())
        raise _fail(key, value, f"these variables belong to other context keys: {owners}")
    return {k: str(v) for k, v in value.items()}


def _id_list(regex: re.Pattern[str], what: str, most: int) -> Callable[[str, Any], tuple[str, ...]]:
    def parse(key: str, value: Any) -> tuple[str, ...]:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not 1 <= len(items) <= most:
            raise _fail(key, value, f"expected 1 to {most} comma-separated {what}s")
        items = tuple(str(i).strip() for i in items)
        bad = [i for i in items if not regex.fullmatch(i)]
        if bad or len(set(items)) != len(items):
            raise _fail(key, value, f"expected distinct {what}s like {what}-0123456789abcdef0, comma-separated")
        return items

    return parse


def _media_domains(key: str, value: Any) -> tuple[str, ...]:
    allowed = "one https host name like images.example.com (lower case, no scheme, port, path, IP or wildcard)"
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise _fail(key, value, allowed)
    hosts = tuple(str(i).strip().rstrip(".") for i in items if str(i).strip())
    if not hosts or not all(MEDIA_HOST.fullmatch(h) for h in hosts):
        raise _fail(key, value, allowed)
    if len(hosts) > 1:
        # The vLLM DLC entrypoint passes SM_VLLM_ALLOWED_MEDIA_DOMAINS as ONE argument (ARGS+=("$value")), and
        # vLLM 0.29's parser (nargs="+") then holds one entry "a b" that matches no host: the container could
        # enforce no list of several. One host keeps the container's check (docs/security.md).
        raise _fail(key, value, "exactly one host: the vLLM container can enforce only one (docs/security.md)")
    return hosts


def _kms_key(key: str, value: Any) -> str:
    if value == "create" or (isinstance(value, str) and KMS_KEY_ARN.fullmatch(value)):
        return str(value)
    raise _fail(key, value, "expected create or a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)")


# Whole words of a variable name that mark a credential; TOKENIZER_NAME or MAX_TOTAL_TOKENS are not secrets.
_SECRET_WORDS = {"TOKEN", "SECRET", "SECRETS", "PASSWORD", "PASSWD", "CREDENTIAL", "CREDENTIALS", "APIKEY"}
_KEY_QUALIFIERS = {"API", "ACCESS", "PRIVATE", "SECRET", "AUTH", "SIGNING", "ENCRYPTION"}


def _looks_secret(name: str) -> bool:
    words = name.upper().split("_")
    return any(
        w in _SECRET_WORDS or (w == "KEY" and i > 0 and words[i - 1] in _KEY_QUALIFIERS) for i, w in enumerate(words)
    )


# Container variables the TGI construct sets from a context key; extra_env may not override them.
EXTRA_ENV_OWNERS = {
    "HF_MODEL_ID": "model",
    "SM_NUM_GPUS": "num_gpus",
    "MAX_INPUT_TOKENS": "max_input_tokens",
    "MAX_INPUT_LENGTH": "max_input_tokens",
    "MAX_TOTAL_TOKENS": "max_total_tokens",
    "MAX_BATCH_PREFILL_TOKENS": "max_batch_prefill_tokens",
    "MAX_BATCH_TOTAL_TOKENS": "max_batch_total_tokens",
    "HF_MODEL_QUANTIZE": "quantize",
    "HF_TOKEN": "hf_token_secret",
    "HUGGING_FACE_HUB_TOKEN": "hf_token_secret",
    "HF_MODEL_REVISION": "model (the revision pinned in models.lock.json)",
    "REVISION": "model (the revision pinned in models.lock.json)",
    "HF_MODEL_TRUST_REMOTE_CODE": "trust_remote_code",
    "TRUST_REMOTE_CODE": "trust_remote_code",
    # The vLLM construct's (constructs/vllm_endpoint.py RESERVED_ENV).
    "SM_VLLM_MODEL": "model",
    "SM_VLLM_SERVED_MODEL_NAME": "model",
    "SM_VLLM_REVISION": "model (the revision pinned in models.lock.json)",
    "SM_VLLM_TOKENIZER_REVISION": "model (the revision pinned in models.lock.json)",
    "SM_VLLM_CODE_REVISION": "model (the revision pinned in models.lock.json)",
    "SM_VLLM_TENSOR_PARALLEL_SIZE": "num_gpus",
    "SM_VLLM_MAX_MODEL_LEN": "max_total_tokens",
    "SM_VLLM_MAX_NUM_BATCHED_TOKENS": "max_num_batched_tokens",
    "SM_VLLM_GPU_MEMORY_UTILIZATION": "gpu_memory_utilization",
    "SM_VLLM_QUANTIZATION": "quantize",
    "SM_VLLM_TRUST_REMOTE_CODE": "trust_remote_code",
    "SM_VLLM_ENABLE_AUTO_TOOL_CHOICE": "tool_call_parser",
    "SM_VLLM_TOOL_CALL_PARSER": "tool_call_parser",
    "SM_VLLM_REASONING_PARSER": "reasoning_parser",
    "HF_ENABLE_LMCACHE": "lmcache",
    "HF_HUB_OFFLINE": "model_data",
}


def _active_hours(key: str, value: Any) -> ActiveHours:
    try:
        return ActiveHours.parse(value if isinstance(value, str) else "")
    except ValueError as err:
        raise _fail(key, value, f'{err}; e.g. "MON-FRI 08:00-19:00 Europe/Berlin"') from None


# An IAM role or user ARN as aws:PrincipalArn shows it; `*` and `?` allowed for ArnLike (e.g. an SSO
# permission set's roles: role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_DataReaders_*).
PRINCIPAL_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/*?-]{1,512}$")
MAX_CAPTURE_READERS = 10


def _capture_readers(key: str, value: Any) -> tuple[str, ...]:
    arns = [a.strip() for a in value.split(",")] if isinstance(value, str) else value
    allowed = (
        f"a comma-separated list of 1-{MAX_CAPTURE_READERS} IAM role or user ARNs like "
        "arn:aws:iam::123456789012:role/prompt-auditors"
    )
    if not isinstance(arns, list) or not 1 <= len(arns) <= MAX_CAPTURE_READERS:
        raise _fail(key, value, f"expected {allowed}")
    bad = [a for a in arns if not isinstance(a, str) or not PRINCIPAL_ARN.fullmatch(a)]
    if bad:
        raise _fail(key, value, f"{', '.join(map(repr, bad))} not valid; expected {allowed}")
    return tuple(arns)


def _api_keys(key: str, value: Any) -> tuple[str, ...]:
    allowed = (
        f"a comma-separated list of 1-{MAX_API_KEYS} distinct consumer names like alice,bob "
        "(lower-case letters and digits, '-' between them, up to 32)"
    )
    names = [n.strip() for n in value.split(",")] if isinstance(value, str) else value
    if not isinstance(names, list) or not 1 <= len(names) <= MAX_API_KEYS:
        raise _fail(key, value, f"expected {allowed}")
    bad = [n for n in names if not isinstance(n, str) or not CONSUMER_NAME.fullmatch(n)]
    if bad:
        raise _fail(key, value, f"{', '.join(map(repr, bad))} not valid; expected {allowed}")
    # Output and construct names drop the '-': alice-1 and alice1 would be the same consumer there.
    squashed = [n.replace("-", "") for n in names]
    dupes = sorted({n for n in names if squashed.count(n.replace("-", "")) > 1})
    if dupes:
        raise _fail(key, value, f"{', '.join(dupes)} given more than once (ignoring '-'); expected {allowed}")
    return tuple(names)


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
    "hf_token_secret": (
        _pattern(SECRET_REF, "a Secrets Manager secret name or ARN"),
        # The resolved token sits in the Model's container environment: DescribeModel shows it.
        "HF token secret (readable through DescribeModel: use a fine-grained read-only token, or model_data)",
    ),
    "extra_env": (_extra_env, "JSON object of extra container environment variables"),
    "region": (_region, "pin the stack's region (default: agnostic)"),
    "account": (
        _pattern(ACCOUNT, "a 12-digit AWS account id"),
        "pin the stack's account (default: agnostic)",
    ),
    "stack_name": (_pattern(STACK_NAME, "a CloudFormation stack name"), "stack name (default LlmChat)"),
    "api_auth": (_choice(API_AUTH_MODES), "iam (SigV4, default) or api_key"),
    "api_rate_limit": (_int(1, 10_000), "API steady-state requests/s (default 10)"),
    "api_burst_limit": (_int(1, 10_000), "API burst (default 20)"),
    "api_quota_per_day": (_int(1, 100_000_000), "api_key mode: requests per key per day (default 10000)"),
    "reserved_concurrency": (
        _reserved,
        "chat Lambda reserved concurrency, or none for unreserved (default api_burst_limit, 20)",
    ),
    "api_key_rate_limit": (
        _int(1, 10_000),
        "api_key mode: requests/s per key (default api_rate_limit shared by max(2, keys): 5)",
    ),
    "api_key_burst_limit": (
        _int(1, 10_000),
        "api_key mode: burst per key (default api_burst_limit shared by max(2, keys): 10)",
    ),
    "daily_token_budget": (_int(1, 10**12), "tokens per caller per UTC day (default: no budget)"),
    # Each slot is one item; a caller at its limit costs one failed conditional write per slot: keep N small.
    "max_streams_per_caller": (_int(1, 100), "concurrent streamed answers per caller (default: no limit)"),
    "max_requests_per_caller": (_int(1, 100), "concurrent model requests of every kind per caller (default: none)"),
    "iam_requests_per_minute": (_int(1, 100_000), "iam mode: model requests per caller per minute (default: none)"),
    "caller_key": (_choice(("role", "session")), "iam mode: budgets per role (default) or per role session"),
    "default_max_tokens": (
        _int(1, 1_000_000),
        "chat API: max_tokens when a request gives none (default: vLLM the rest of the context, TGI 512)",
    ),
    "responses_store": (
        _bool,
        "keep /v1/responses answers per caller in DynamoDB for previous_response_id and GET (default false)",
    ),
    "responses_retention_days": (_int(1, 3650), "responses_store: days a stored response is kept (default 30)"),
    "jumpstart_model": (_pattern(re.compile(r"^[\w.\-]+$"), "a JumpStart model id"), "JumpStart model id"),
    "jumpstart_version": (_pattern(re.compile(r"^(\*|[\w.\-]+)$"), "'*' or a version"), "default *"),
    "accept_eula": (_bool, "accept the JumpStart model's EULA (default false)"),
    "model_data": (
        _pattern(S3_PREFIX_URI, "an S3 folder URI like s3://bucket/models/name/ (trailing slash)"),
        "weights staged in S3 (make stage-weights); turns network isolation on (default: Hub download)",
    ),
    "model_data_kms_key": (
        _pattern(KMS_KEY_ARN, "a KMS key ARN"),
        "KMS key of the model_data bucket, if SSE-KMS (default none)",
    ),
    "vpc": (_choice(("create",)), "create: a new isolated VPC for the endpoint (default: no VPC)"),
    "vpc_id": (_pattern(VPC_ID, "a VPC id like vpc-0123456789abcdef0"), "an existing VPC (with subnet_ids)"),
    "subnet_ids": (_id_list(SUBNET_ID, "subnet", 16), "subnets of vpc_id, comma-separated"),
    "security_group_ids": (
        _id_list(SECURITY_GROUP_ID, "sg", 5),
        "with vpc_id: security groups (default: one with HTTPS egress only)",
    ),
    "kms_key": (_kms_key, "create or a key ARN: endpoint volume (EBS types) and data capture (default none)"),
    "data_capture": (_bool, "capture requests and responses to an encrypted bucket (default false)"),
    "data_capture_days": (_int(1, 3650), "days captured data is kept (default 30)"),
    "capture_readers": (
        _capture_readers,
        "data_capture: IAM role/user ARNs (wildcards allowed) that may read captured prompts (default nobody)",
    ),
    "engine": (_choice(ENGINES), "serving engine: tgi (Falcon presets) or vllm (every other model)"),
    "vllm_version": (_vllm_version, "vLLM DLC version (default: newest in the SDK)"),
    "vllm_image": (_choice(tuple(VLLM_IMAGE_FRAMEWORKS)), "vLLM DLC: huggingface (default) or aws"),
    "gpu_memory_utilization": (_float(0.1, 0.99), "vLLM: share of GPU memory it may use (default 0.9)"),
    "max_num_batched_tokens": (_int(1, 10_000_000), "vLLM: SM_VLLM_MAX_NUM_BATCHED_TOKENS (default vLLM's)"),
    "lmcache": (_bool, "Hugging Face vLLM DLC: LMCache CPU KV offload (default false)"),
    "trust_remote_code": (_bool, "allow a model's own Python code from the Hub (default false)"),
    "tool_call_parser": (_pattern(PARSER_NAME, "a vLLM tool-call parser name like hermes"), "vLLM tools"),
    "reasoning_parser": (_pattern(PARSER_NAME, "a vLLM reasoning parser name like deepseek_r1"), "vLLM"),
    "image_url_domains": (_media_domains, "vLLM: the https host media URLs may name (default: data: URLs only)"),
    "pipeline": (_bool, "add a CDK Pipelines stack that deploys the app (default false)"),
    **PIPELINE_KEYS,
    "scale_to_zero": (_bool, "inference component that scales to zero instances when idle (default false)"),
    "idle_minutes": (_int(*IDLE_MINUTES_RANGE), "scale_to_zero: minutes without requests before zero (default 15)"),
    "active_hours": (_active_hours, "scale_to_zero: when it may run, e.g. 'MON-FRI 08:00-19:00 Europe/Berlin'"),
    # Issue 20: bounded so a held stream plus one SageMaker stream fit Lambda's and API Gateway's 15 minutes.
    "wake_wait_seconds": (
        _int(0, time_limits.WAKE_WAIT_MAX_SECONDS),
        f"scale_to_zero: seconds a call waits while the model wakes (default {time_limits.WAKE_WAIT_DEFAULT_SECONDS}; "
        "0: 503 at once)",
    ),
    "min_instances": (_int(0, 20), "autoscaling floor (default instance_count; 0 only with scale_to_zero)"),
    "max_instances": (_int(1, 20), "autoscaling ceiling (default instance_count: no autoscaling)"),
    "target_concurrency": (_int(1, 1000), "autoscaling target: concurrent requests per instance/copy (default 4)"),
    "scale_out_cooldown": (_int(0, 3600), "autoscaling: seconds between scale-outs (default 60)"),
    "scale_in_cooldown": (_int(0, 3600), "always-on autoscaling: seconds between scale-ins (default 600)"),
    "deployment_strategy": (_choice(STRATEGIES), "how endpoint updates shift traffic and roll back (default auto)"),
    "alarm_email": (_pattern(EMAIL, "an e-mail address like ops@example.com"), "alarm notifications e-mail"),
    "api_keys": (_api_keys, "api_key mode: one key and usage plan per named consumer (default one key)"),
}


_TGI_ONLY = "with deployment=jumpstart the image, weights and container environment come from the locked JumpStart spec"

# key -> the shape(s) in which it has an effect (stacks/context_rules.py). A key not listed applies everywhere;
# a new key that only matters in some shape adds one line here, e.g.
#   "vllm_max_num_seqs": AppliesWhen("engine", ("vllm",), "only the vLLM engine reads it"),
APPLIES_WHEN: dict[str, AppliesWhen | tuple[AppliesWhen, ...]] = {
    **{
        key: AppliesWhen("deployment", ("tgi",), _TGI_ONLY)
        for key in (
            "model_params_b",
            "num_gpus",
            "tgi_version",
            "quantize",
            "max_input_tokens",
            "max_input_length",
            "max_total_tokens",
            "max_batch_prefill_tokens",
            "max_batch_total_tokens",
            "hf_token_secret",
            "extra_env",
        )
    },
    **{
        key: AppliesWhen("deployment", ("jumpstart",), "only the JumpStart path reads JumpStart model facts")
        for key in ("jumpstart_model", "jumpstart_version", "accept_eula")
    },
    "api_quota_per_day": AppliesWhen("api_auth", ("api_key",), "only API keys have a usage plan with a daily quota"),
    # API keys get their own usage-plan rate; IAM callers share the stage's, hence a per-caller rate in the proxy.
    "iam_requests_per_minute": AppliesWhen("api_auth", ("iam",), "API keys are rate-limited by their usage plan"),
    "caller_key": AppliesWhen("api_auth", ("iam",), "only IAM callers have role sessions"),
    "api_key_rate_limit": AppliesWhen("api_auth", ("api_key",), "only API keys have a usage plan with a throttle"),
    "api_key_burst_limit": AppliesWhen("api_auth", ("api_key",), "only API keys have a usage plan with a throttle"),
    "responses_retention_days": AppliesWhen(
        "responses_store", (True,), "without responses_store=true no response is kept (stateless /v1/responses)"
    ),
    # Engine-specific keys (vllm_version, tgi_version, ...) are checked once the engine is resolved from the
    # model (_check_engine), since its default depends on the model.
    "trust_remote_code": AppliesWhen("deployment", ("tgi",), _TGI_ONLY),
}


def _shape_value(key: str, parsed: Mapping[str, Any]) -> Any:
    if key in parsed:
        return parsed[key]
    default = AppConfig.__dataclass_fields__[key].default if key in AppConfig.__dataclass_fields__ else None
    return default


def from_context(context: Mapping[str, Any]) -> AppConfig:
    """Parse and cross-check every key; the first problem found is raised as ConfigError."""
    unknown = sorted(k for k in context if not is_cdk_key(k, CONTEXT_KEYS) and k not in CONTEXT_KEYS)
    if unknown:
        raise ConfigError(unknown_keys_message(unknown, CONTEXT_KEYS))
    v: dict[str, Any] = {
        k: CONTEXT_KEYS[k][0](k, context[k]) for k in CONTEXT_KEYS if k in context and context[k] is not None
    }
    shape_keys = {rule.shape_key for r in APPLIES_WHEN.values() for rule in (r if isinstance(r, tuple) else (r,))}
    ignored = check_applicability(v, {k: _shape_value(k, v) for k in shape_keys}, APPLIES_WHEN)
    if ignored:
        raise ConfigError(ignored)

    if "max_input_length" in v:
        if "max_input_tokens" in v and v["max_input_tokens"] != v["max_input_length"]:
            raise ConfigError("context keys 'max_input_tokens' and 'max_input_length' disagree; give one of them")
        v["max_input_tokens"] = v.pop("max_input_length")

    model = _resolve_model(v.pop("model", DEFAULT_MODEL), v.pop("model_params_b", None), v.pop("prompt_family", None))
    _check_engine(v, model)
    problem = quantize_problem(
        v.get("quantize"),
        model_id=model.hf_model_id,
        checkpoint_quantization=None,
        checkpoint_known=_plain_checkpoint(model),
    )
    if problem:
        raise _fail("quantize", v["quantize"], problem)
    if v.get("deployment", "tgi") == "tgi":
        v.setdefault(
            "instance_type",
            default_instance(
                model,
                engine=v["engine"],
                quantize=v.get("quantize"),
                max_total_tokens=v.get("max_total_tokens", 2048),
                gpu_memory_utilization=v.get("gpu_memory_utilization"),
            ),
        )
    else:
        v.setdefault("instance_type", None)  # the JumpStart spec's default, read from the lock

    max_input = v.get("max_input_tokens", 1024)
    max_total = v.get("max_total_tokens", 2048)
    if max_total <= max_input:
        raise _fail("max_total_tokens", max_total, f"must be greater than max_input_tokens ({max_input})")
    default_max = v.get("default_max_tokens")
    if default_max is not None and default_max >= max_total:
        raise _fail("default_max_tokens", default_max, f"must be less than max_total_tokens ({max_total})")
    if default_max is not None and v["engine"] == "tgi" and default_max > max_total - max_input:
        raise _fail(
            "default_max_tokens",
            default_max,
            f"TGI generates at most max_total_tokens - max_input_tokens = {max_total - max_input} new tokens",
        )
    prefill = v.get("max_batch_prefill_tokens")
    if prefill is not None and prefill < max_input:
        raise _fail("max_batch_prefill_tokens", prefill, f"must be at least max_input_tokens ({max_input})")
    batch_total = v.get("max_batch_total_tokens")
    if batch_total is not None and batch_total < max_total:
        raise _fail("max_batch_total_tokens", batch_total, f"must be at least max_total_tokens ({max_total})")

    gpus = gpu_table()[v["instance_type"]].count if v["instance_type"] else 8
    if v.get("num_gpus", 0) > gpus:
        raise _fail("num_gpus", v["num_gpus"], f"{v['instance_type']} has {gpus} GPU(s)")
    _check_private(v)
    if model.gated and "hf_token_secret" not in v and "model_data" not in v and v.get("deployment", "tgi") == "tgi":
        raise ConfigError(
            f"model {model.hf_model_id!r} is gated on the Hugging Face Hub: accept its licence there and pass a "
            "token stored in Secrets Manager with -c hf_token_secret=<secret name or ARN>"
        )
    if v.get("api_burst_limit", 20) < v.get("api_rate_limit", 10):
        raise _fail("api_burst_limit", v.get("api_burst_limit"), "must be at least api_rate_limit")
    check_pipeline(v)
    if "deployment_strategy" in v:
        try:
            resolve_strategy(v["deployment_strategy"], v.get("instance_count", 1))
        except ValueError as err:
            reason = str(err).removeprefix(f"deployment_strategy {v['deployment_strategy']!r} ")
            raise _fail("deployment_strategy", v["deployment_strategy"], reason) from None
    if v.get("scale_to_zero") and v.get("deployment_strategy", "auto") not in ("auto", "rolling", "none"):
        raise _fail(
            "deployment_strategy",
            v["deployment_strategy"],
            "with scale_to_zero=true the model is updated copy by copy (rolling, rolled back on alarms): "
            "allowed values there: auto, rolling, none",
        )
    if "api_keys" in v and v.get("api_auth", "iam") != "api_key":
        raise _fail("api_keys", ",".join(v["api_keys"]), "named API keys need -c api_auth=api_key")
    _check_api_key_limits(v)
    if "reserved_concurrency" not in v:
        # Reserved by default: the chat API neither takes the account's shared pool nor is starved by other
        # functions; sized to the stage burst so raising the stage limits raises it too.
        v["reserved_concurrency"] = v.get("api_burst_limit", 20)
    reserved = v.get("reserved_concurrency")
    for key in ("max_streams_per_caller", "max_requests_per_caller"):
        if v.get(key) is not None and reserved is not None and v[key] > reserved:
            raise _fail(key, v[key], f"must be at most reserved_concurrency ({reserved})")
    if v.get("deployment") == "jumpstart" and "jumpstart_model" not in v:
        if model.jumpstart_model is None:
            raise ConfigError(
                f"context key 'jumpstart_model' is required with deployment=jumpstart for model {model.name!r}; "
                "presets with a JumpStart id: "
                + ", ".join(f"{p.name} ({p.jumpstart_model})" for p in PRESETS.values() if p.jumpstart_model)
            )
        v["jumpstart_model"] = model.jumpstart_model
    _check_scaling(v)
    return AppConfig(model=model, **v)


def _check_api_key_limits(v: dict[str, Any]) -> None:
    """Each API key's throttle fits inside the stage's, so one key cannot use the whole stage."""
    for key, stage in (("api_key_rate_limit", "api_rate_limit"), ("api_key_burst_limit", "api_burst_limit")):
        if key in v and v[key] > v.get(stage, AppConfig.__dataclass_fields__[stage].default):
            stage_value = v.get(stage, AppConfig.__dataclass_fields__[stage].default)
            raise _fail(key, v[key], f"must be at most {stage} ({stage_value}): the stage throttles first")
    rate, burst = v.get("api_key_rate_limit"), v.get("api_key_burst_limit")
    if rate is not None and burst is not None and burst < rate:
        raise _fail("api_key_burst_limit", burst, f"must be at least api_key_rate_limit ({rate})")


def _check_private(v: dict[str, Any]) -> None:
    """Cross-checks of the private-deployment keys (README "Private deployments")."""
    deployment = v.get("deployment", "tgi")
    if "model_data" in v and deployment == "jumpstart":
        raise _fail(
            "model_data",
            v["model_data"],
            "not with deployment=jumpstart: JumpStart already loads its artifacts from S3 (the locked JumpStart "
            "bucket) with network isolation on",
        )
    if "model_data" in v and "hf_token_secret" in v:
        raise ConfigError(
            "context keys 'model_data' and 'hf_token_secret' exclude each other: weights from S3 need no Hugging "
            "Face token, and the container runs without network access"
        )
    if "model_data_kms_key" in v and "model_data" not in v:
        raise ConfigError("context key 'model_data_kms_key' needs 'model_data' (the bucket it decrypts)")
    if "vpc" in v and any(k in v for k in ("vpc_id", "subnet_ids", "security_group_ids")):
        raise ConfigError(
            "context key 'vpc=create' builds a new VPC: drop 'vpc_id', 'subnet_ids' and 'security_group_ids', or "
            "drop 'vpc' to use your VPC"
        )
    for dependent in ("subnet_ids", "security_group_ids"):
        if dependent in v and "vpc_id" not in v:
            raise ConfigError(f"context key {dependent!r} needs 'vpc_id' (the VPC the ids belong to)")
    if "vpc_id" in v and "subnet_ids" not in v:
        raise ConfigError("context key 'vpc_id' needs 'subnet_ids' (comma-separated subnets of that VPC)")
    if v.get("vpc") == "create" and deployment == "tgi" and "model_data" not in v:
        raise ConfigError(
            "context key 'vpc=create' makes a VPC without internet access, so the container cannot download the "
            "weights from the Hugging Face Hub: stage them in S3 (make stage-weights MODEL=... BUCKET=...) and pass "
            "-c model_data=s3://bucket/prefix/"
        )
    if "data_capture_days" in v and not v.get("data_capture"):
        raise ConfigError("context key 'data_capture_days' needs data_capture=true")
    if "capture_readers" in v and not v.get("data_capture"):
        raise ConfigError("context key 'capture_readers' needs data_capture=true")


def _check_scaling(v: dict[str, Any]) -> None:
    """Cross-checks of the hosting shape: scale to zero, or always-on instances with optional autoscaling."""
    if v.get("scale_to_zero", False):
        if v.get("min_instances", 0) != 0:
            raise _fail(
                "min_instances",
                v["min_instances"],
                "scale_to_zero=true always scales down to 0 instances; use active_hours to keep the model up "
                "during working hours, or drop scale_to_zero for an always-on floor",
            )
        if "scale_in_cooldown" in v:
            raise ConfigError(
                "context key 'scale_in_cooldown' does not apply with scale_to_zero=true (copies go when the "
                "endpoint has been idle for idle_minutes); remove it or set idle_minutes"
            )
        count = v.get("instance_count", 1)
        v.setdefault("max_instances", count)
        if count > v["max_instances"]:
            raise _fail("instance_count", count, f"must be at most max_instances ({v['max_instances']})")
        return
    for key in ("idle_minutes", "active_hours", "wake_wait_seconds"):
        if key in v:
            raise ConfigError(f"context key {key!r} requires scale_to_zero=true (add -c scale_to_zero=true)")
    if v.get("min_instances") == 0:
        raise _fail("min_instances", 0, "0 instances needs scale_to_zero=true; always-on endpoints keep at least 1")
    low = v.get("min_instances", v.get("instance_count", 1))
    high = v.get("max_instances", max(low, v.get("instance_count", 1)))
    if high < low:
        raise _fail("max_instances", high, f"must be at least min_instances ({low})")
    count = v.setdefault("instance_count", low)
    if not low <= count <= high:
        raise _fail("instance_count", count, f"must lie between min_instances ({low}) and max_instances ({high})")
    v["min_instances"], v["max_instances"] = low, high
    if high == low:
        extra = sorted(k for k in ("target_concurrency", "scale_out_cooldown", "scale_in_cooldown") if k in v)
        if extra:
            raise ConfigError(
                f"context key(s) {', '.join(map(repr, extra))} need autoscaling: set max_instances above "
                f"min_instances ({low}), or scale_to_zero=true"
            )


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
            raise _fail(
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
        raise _fail("model_params_b", params_b, f"not needed for {name}: models.lock.json has its size")
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


def _check_engine(v: dict[str, Any], model: ModelPreset) -> None:
    """Resolve the engine and refuse keys, families and models it cannot serve."""
    jumpstart = v.get("deployment", "tgi") == "jumpstart"
    if jumpstart and v.get("engine", "tgi") != "tgi":
        raise _fail("engine", v["engine"], "deployment=jumpstart runs the JumpStart spec's own TGI image")
    engine = v.setdefault("engine", "tgi" if jumpstart else model.engine)
    other_keys = TGI_ONLY_KEYS if engine == "vllm" else VLLM_ONLY_KEYS
    for key in other_keys:
        if key in v:
            raise _fail(key, v[key], f"it applies to engine={'tgi' if engine == 'vllm' else 'vllm'}, not {engine}")
    if engine == "vllm" and v.get("quantize") is not None and v["quantize"] not in VLLM_QUANTIZE_CHOICES:
        raise _fail("quantize", v["quantize"], f"with engine=vllm allowed values: {', '.join(VLLM_QUANTIZE_CHOICES)}")
    if engine == "vllm" and v.get("vllm_version") is not None:
        framework = VLLM_IMAGE_FRAMEWORKS[v.get("vllm_image", "huggingface")]
        if v["vllm_version"] not in image_versions(framework):
            raise _fail(
                "vllm_version",
                v["vllm_version"],
                f"{framework} images exist for: {', '.join(image_versions(framework))}",
            )
    if model.prompt_family == "server" and not model.chat_template:
        raise _fail(
            "prompt_family",
            "server",
            f"{model.hf_model_id}'s tokenizer has no chat template; use falcon, chatml, llama2 or mistral",
        )
    if model.prompt_family == "server" and engine == "tgi" and not jumpstart and v.get("tgi_version"):
        if _version_tuple(v["tgi_version"]) < TGI_MESSAGES_ON_INVOCATIONS:
            raise _fail(
                "tgi_version",
                v["tgi_version"],
                "prompt_family=server needs TGI 2.4.0 or newer (OpenAI messages on /invocations)",
            )
    if model.trust_remote_code and not v.get("trust_remote_code", False):
        raise ConfigError(
            f"model {model.hf_model_id!r} runs its own Python code from the Hub (auto_map in config.json): "
            "review it, then allow it explicitly with -c trust_remote_code=true"
        )


def identity_from_context(context: Mapping[str, Any]) -> tuple[str, str | None, str | None]:
    """Only what names a deployed stack (stack_name, region, account), ignoring every other key.

    For commands that act on an existing stack (`cdk destroy`): the rest of the config may have changed or
    be missing since the stack was created, and must not stand in the way of removing it.
    """
    name = CONTEXT_KEYS["stack_name"][0]("stack_name", context["stack_name"]) if "stack_name" in context else None
    region = context.get("region")
    account = context.get("account")
    return (
        name or str(AppConfig.__dataclass_fields__["stack_name"].default),
        _pattern(REGION, "an AWS region like us-east-1")("region", region) if region else None,
        _pattern(ACCOUNT, "a 12-digit AWS account id")("account", account) if account else None,
    )
