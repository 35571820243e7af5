"""How each context value is read: one parser per kind of value, shared by the schema (stacks/options.py).

A parser takes (key, value) — a string from `-c key=value`, or a JSON value from cdk.json or a context file — and
returns the typed value or raises ConfigError naming the key, the value and what is allowed. Its `allowed` text
is what the generated options reference (docs/options.md) shows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

from constructs.facts.catalog import VLLM_IMAGE_FRAMEWORKS
from constructs.facts.presets import EMBEDDING_PRESETS, PRESETS
from constructs.facts.regions import LWA_REGIONS, SUPPORTED_PARTITIONS
from constructs.facts.sdk_data import gpu_table, image_aliases, image_versions, partition
from constructs.hosting.active_hours import ActiveHours
from constructs.private.model_data import KMS_KEY_ARN, S3_PREFIX_URI

Parser = Callable[[str, Any], Any]
P = TypeVar("P", bound=Parser)

PARSER_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
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


def allowed(parser: Parser) -> str:
    """What the parser accepts, for the options reference."""
    return str(getattr(parser, "allowed", ""))


def says(text: str) -> Callable[[P], P]:
    """Decorator: record what `parser` accepts (shown in docs/options.md)."""

    def mark(parser: P) -> P:
        parser.allowed = text  # type: ignore[attr-defined]
        return parser

    return mark


def fail(key: str, value: Any, allowed: str) -> ConfigError:
    return ConfigError(f"context key {key!r}: {value!r} is not allowed; {allowed}")


def whole(lo: int, hi: int) -> Callable[[str, Any], int]:
    def parse(key: str, value: Any) -> int:
        if isinstance(value, bool) or not (
            isinstance(value, int) or (isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value))
        ):
            raise fail(key, value, f"expected a whole number from {lo} to {hi}")
        number = int(value)
        if not lo <= number <= hi:
            raise fail(key, value, f"expected a whole number from {lo} to {hi}")
        return number

    return says(f"{lo:_}-{hi:_}".replace("_", ","))(parse)


def number(lo: float, hi: float) -> Callable[[str, Any], float]:
    def parse(key: str, value: Any) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise fail(key, value, f"expected a number from {lo} to {hi}") from None
        if isinstance(value, bool) or not lo <= number <= hi:
            raise fail(key, value, f"expected a number from {lo} to {hi}")
        return number

    return says(f"{lo:g}-{hi:g}")(parse)


@says("`true`, `false`")
def boolean(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise fail(key, value, "expected true or false")


@says("1-1,000, or `none`")
def reserved(key: str, value: Any) -> int | None:
    """1-1000 reserved executions, or `none`. Lambda lets an account reserve all but 100 of its Region's
    concurrency quota (PutFunctionConcurrency, AWS Lambda API Reference): an account with a small quota needs
    `none` (or a quota increase)."""
    if isinstance(value, str) and value.lower() == "none":
        return None
    try:
        return whole(1, 1000)(key, value)
    except ConfigError:
        raise fail(key, value, "expected a number from 1 to 1000, or none (unreserved)") from None


def choice(choices: tuple[str, ...]) -> Callable[[str, Any], str]:
    def parse(key: str, value: Any) -> str:
        if value not in choices:
            raise fail(key, value, f"allowed values: {', '.join(choices)}")
        return str(value)

    return says(", ".join(f"`{c}`" for c in choices))(parse)


def pattern(regex: re.Pattern[str], what: str) -> Callable[[str, Any], str]:
    def parse(key: str, value: Any) -> str:
        if not isinstance(value, str) or not regex.fullmatch(value):
            raise fail(key, value, f"expected {what}")
        return value

    return says(what)(parse)


@says("a GPU instance type the SageMaker SDK knows (or one in constructs/facts/gpu_facts.py)")
def instance_type(key: str, value: Any) -> str:
    known = gpu_table()
    if value not in known:
        raise fail(key, value, f"GPU instance types the SageMaker SDK knows: {', '.join(sorted(known))}")
    return str(value)


@says("a TGI version with a SageMaker DLC (the SDK's huggingface-llm.json), or its alias")
def tgi_version(key: str, value: Any) -> str:
    versions = image_versions("huggingface-llm")
    aliases = image_aliases("huggingface-llm")  # "3.3" → "3.3.6", as the SDK's image_uris.retrieve resolves them
    if value not in versions and value not in aliases:
        raise fail(
            key, value, f"TGI versions with a SageMaker DLC: {', '.join(versions)} (or an alias: {', '.join(aliases)})"
        )
    return str(value)


@says("a vLLM version with a SageMaker DLC (the SDK's huggingface-vllm.json / vllm.json)")
def vllm_version(key: str, value: Any) -> str:
    known = sorted({ver for f in VLLM_IMAGE_FRAMEWORKS.values() for ver in image_versions(f)}, key=version_tuple)
    if value not in known:
        raise fail(key, value, f"vLLM versions with a SageMaker DLC: {', '.join(known)}")
    return str(value)


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".") if p.isdigit())


@says("an `aws`-partition region where the Lambda Web Adapter layer is published")
def region(key: str, value: Any) -> str:
    region = pattern(REGION, "an AWS region like us-east-1")(key, value)
    if partition(region) not in SUPPORTED_PARTITIONS:
        raise fail(
            key,
            value,
            f"it is in the {partition(region)} partition; supported partitions: {', '.join(SUPPORTED_PARTITIONS)} "
            "(the chat API's Lambda Web Adapter arm64 layer is not published there)",
        )
    if region not in LWA_REGIONS:
        raise fail(key, value, f"regions where the Lambda Web Adapter layer is published: {', '.join(LWA_REGIONS)}")
    return region


@says("a catalog preset or a Hugging Face model id `org/name`")
def model(key: str, value: Any) -> str:
    if value in PRESETS or (isinstance(value, str) and HF_MODEL_ID.fullmatch(value)):
        return str(value)
    raise fail(key, value, f"a preset ({', '.join(PRESETS)}) or a Hugging Face model id like 'org/name'")


# Our own caps, not AWS limits: each model is a component with at least one GPU of its own (no instance type in
# the SDK's table has more than 8 or 16), and vLLM's --max-loras is sized from the number of adapters.
MAX_MODELS = 8
MAX_ADAPTERS = 10
# An adapter's name is the `model` a client sends and part of its inference component's name (SageMaker
# InferenceComponentName pattern ^[a-zA-Z0-9]([\-a-zA-Z0-9]*[a-zA-Z0-9])?$, max 63: botocore sagemaker 2017-07-24).
ADAPTER_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")


@says(f"1-{MAX_MODELS} distinct presets or Hugging Face model ids, comma-separated")
def model_list(key: str, value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not 1 <= len(items) <= MAX_MODELS:
        raise fail(key, value, f"expected 1 to {MAX_MODELS} comma-separated presets or Hugging Face model ids")
    names = tuple(model(key, str(i).strip()) for i in items)
    if len(set(names)) != len(names):
        raise fail(key, value, "each model at most once")
    return names


@says(f"1-{MAX_ADAPTERS} `name=s3://bucket/prefix/` pairs, comma-separated (lower-case names)")
def adapters(key: str, value: Any) -> tuple[tuple[str, str], ...]:
    pairs = [p.strip() for p in value.split(",")] if isinstance(value, str) else None
    example = "support-bot=s3://my-bucket/adapters/support/"
    if not pairs or not 1 <= len(pairs) <= MAX_ADAPTERS:
        raise fail(
            key, value, f"expected 1 to {MAX_ADAPTERS} comma-separated name=s3://bucket/prefix/ pairs, e.g. {example}"
        )
    parsed: list[tuple[str, str]] = []
    for pair in pairs:
        name, _, uri = pair.partition("=")
        if not ADAPTER_NAME.fullmatch(name) or not S3_PREFIX_URI.fullmatch(uri):
            raise fail(
                key,
                value,
                f"{pair!r}: expected name=s3://bucket/prefix/ with a lower-case name of letters, digits and '-' "
                f"(at most 32) and an S3 folder ending in '/', e.g. {example}",
            )
        parsed.append((name, uri))
    if len({n for n, _ in parsed}) != len(parsed):
        raise fail(key, value, "each adapter name at most once")
    return tuple(parsed)


@says("an embedding preset or a Hugging Face model id locked in models.lock.json")
def embedding_model(key: str, value: Any) -> str:
    if value in EMBEDDING_PRESETS or (isinstance(value, str) and HF_MODEL_ID.fullmatch(value)):
        return str(value)
    raise fail(key, value, f"an embedding preset ({', '.join(EMBEDDING_PRESETS)}) or a Hugging Face model id")


@says("a JSON object of variable names to strings; no secrets, no variables another key sets")
def extra_env(key: str, value: Any) -> dict[str, str]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise fail(key, value, 'expected a JSON object of strings, e.g. {"MAX_CONCURRENT_REQUESTS":"64"}') from None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and ENV_NAME.fullmatch(k) and isinstance(v, str | int | float) for k, v in value.items()
    ):
        raise fail(key, value, 'expected a JSON object of strings, e.g. {"MAX_CONCURRENT_REQUESTS":"64"}')
    secretish = [k for k in value if _looks_secret(k)]
    if secretish:
        raise fail(key, value, f"{', '.join(secretish)} look like secrets: pass a token with hf_token_secret")
    chatty = [k for k in ("LOG_LEVEL", "RUST_LOG") if re.search(r"debug|trace", str(value.get(k, "")), re.I)]
    if chatty:
        # TGI logs every prompt and answer at debug (router/src/server.rs: "Input: {}", "Output: {}", v3.3.6).
        raise fail(key, value, f"{', '.join(chatty)} at debug/trace would log prompts and answers: use info or warn")
    clash = {k: EXTRA_ENV_OWNERS[k] for k in value if k in EXTRA_ENV_OWNERS}
    if clash:
        owners = ", ".join(f"{env} (set it with -c {owner})" for env, owner in clash.items())
        raise fail(key, value, f"these variables belong to other context keys: {owners}")
    return {k: str(v) for k, v in value.items()}


def id_list(regex: re.Pattern[str], what: str, most: int) -> Callable[[str, Any], tuple[str, ...]]:
    def parse(key: str, value: Any) -> tuple[str, ...]:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not 1 <= len(items) <= most:
            raise fail(key, value, f"expected 1 to {most} comma-separated {what}s")
        items = tuple(str(i).strip() for i in items)
        bad = [i for i in items if not regex.fullmatch(i)]
        if bad or len(set(items)) != len(items):
            raise fail(key, value, f"expected distinct {what}s like {what}-0123456789abcdef0, comma-separated")
        return items

    return says(f"1-{most} distinct {what} ids, comma-separated")(parse)


@says("one https host name, e.g. `images.example.com`")
def media_domains(key: str, value: Any) -> tuple[str, ...]:
    allowed = "one https host name like images.example.com (lower case, no scheme, port, path, IP or wildcard)"
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise fail(key, value, allowed)
    hosts = tuple(str(i).strip().rstrip(".") for i in items if str(i).strip())
    if not hosts or not all(MEDIA_HOST.fullmatch(h) for h in hosts):
        raise fail(key, value, allowed)
    if len(hosts) > 1:
        # The vLLM DLC entrypoint passes SM_VLLM_ALLOWED_MEDIA_DOMAINS as ONE argument (ARGS+=("$value")), and
        # vLLM 0.29's parser (nargs="+") then holds one entry "a b" that matches no host: the container could
        # enforce no list of several. One host keeps the container's check (docs/security.md).
        raise fail(key, value, "exactly one host: the vLLM container can enforce only one (docs/security.md)")
    return hosts


@says("`create` or a KMS key ARN")
def kms_key(key: str, value: Any) -> str:
    if value == "create" or (isinstance(value, str) and KMS_KEY_ARN.fullmatch(value)):
        return str(value)
    raise fail(key, value, "expected create or a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)")


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
    # The vLLM construct's (constructs/engines/vllm_endpoint.py RESERVED_ENV).
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


@says("`DAYS HH:MM-HH:MM TIMEZONE`, e.g. `MON-FRI 08:00-19:00 Europe/Berlin`")
def active_hours(key: str, value: Any) -> ActiveHours:
    try:
        return ActiveHours.parse(value if isinstance(value, str) else "")
    except ValueError as err:
        raise fail(key, value, f'{err}; e.g. "MON-FRI 08:00-19:00 Europe/Berlin"') from None


# An IAM role or user ARN as aws:PrincipalArn shows it; `*` and `?` allowed for ArnLike (e.g. an SSO
# permission set's roles: role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_DataReaders_*).
PRINCIPAL_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/*?-]{1,512}$")
MAX_CAPTURE_READERS = 10


@says("1-10 IAM role/user ARNs, comma-separated (wildcards allowed)")
def capture_readers(key: str, value: Any) -> tuple[str, ...]:
    arns = [a.strip() for a in value.split(",")] if isinstance(value, str) else value
    allowed = (
        f"a comma-separated list of 1-{MAX_CAPTURE_READERS} IAM role or user ARNs like "
        "arn:aws:iam::123456789012:role/prompt-auditors"
    )
    if not isinstance(arns, list) or not 1 <= len(arns) <= MAX_CAPTURE_READERS:
        raise fail(key, value, f"expected {allowed}")
    bad = [a for a in arns if not isinstance(a, str) or not PRINCIPAL_ARN.fullmatch(a)]
    if bad:
        raise fail(key, value, f"{', '.join(map(repr, bad))} not valid; expected {allowed}")
    return tuple(arns)


@says("1-50 distinct consumer names, comma-separated (`a-z`, `0-9`, `-` between)")
def api_keys(key: str, value: Any) -> tuple[str, ...]:
    allowed = (
        f"a comma-separated list of 1-{MAX_API_KEYS} distinct consumer names like alice,bob "
        "(lower-case letters and digits, '-' between them, up to 32)"
    )
    names = [n.strip() for n in value.split(",")] if isinstance(value, str) else value
    if not isinstance(names, list) or not 1 <= len(names) <= MAX_API_KEYS:
        raise fail(key, value, f"expected {allowed}")
    bad = [n for n in names if not isinstance(n, str) or not CONSUMER_NAME.fullmatch(n)]
    if bad:
        raise fail(key, value, f"{', '.join(map(repr, bad))} not valid; expected {allowed}")
    # Output and construct names drop the '-': alice-1 and alice1 would be the same consumer there.
    squashed = [n.replace("-", "") for n in names]
    dupes = sorted({n for n in names if squashed.count(n.replace("-", "")) > 1})
    if dupes:
        raise fail(key, value, f"{', '.join(dupes)} given more than once (ignoring '-'); expected {allowed}")
    return tuple(names)


# CodeConnections ARNs, and the older CodeStar Connections ones that CodePipeline still accepts
# (https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CodestarConnectionSource.html).
CONNECTION_ARN = re.compile(
    r"^arn:aws[\w-]*:(codeconnections|codestar-connections):[a-z]{2,4}(-[a-z]+)+-\d{1,2}:\d{12}:connection/[0-9a-f-]{36}$"
)
# owner/name (GitHub, Bitbucket) or group/subgroup/name (GitLab).
REPO = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)+$")
# A safe subset of git-check-ref-format: no "..", no leading "-" or "/", no trailing "/", "." or ".lock".
BRANCH = re.compile(r"^(?![-/])(?!.*\.\.)(?!.*//)[A-Za-z0-9._/-]{1,200}(?<![/.])(?<!\.lock)$")
