"""The schema of every context key (`-c key=value`, cdk.json, a context file): declared once, here.

Each key is one field of ContextOptions: its Python type, the parser that reads it (stacks/option_types.py: range,
choices, coercion of CLI strings), its default, the shape it applies to, and its one-line doc. Rules between keys
are the model validators below, in the order they report the first problem; the ones that need the resolved model
call stacks/model_choice.py (catalog, models.lock.json, SDK data). docs/options.md and the README's top-options
block are generated from this class (tools/options_doc.py) and a test fails when they drift.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from constructs.api import time_limits
from constructs.api.guardrail import GuardrailChoice
from constructs.engines.quantization import quantize_problem
from constructs.facts.catalog import (
    QUANTIZE_CHOICES,
    VLLM_IMAGE_FRAMEWORKS,
    default_instance,
)
from constructs.facts.component_plan import instances_for, plan_components
from constructs.facts.presets import DEFAULT_MODEL, PRESETS, ModelPreset
from constructs.facts.sdk_data import gpu_table
from constructs.hosting.active_hours import IDLE_MINUTES_RANGE, ActiveHours
from constructs.hosting.deployment import STRATEGIES, resolve_strategy
from constructs.hosting.monitoring import EMAIL
from constructs.hosting.routing import (
    CONCURRENCY_THRESHOLD_RANGE,
    DEFAULT_CONCURRENCY_THRESHOLD,
    DEFAULT_PREFIX_LENGTH,
    PREFIX_LENGTH_RANGE,
)
from constructs.hosting.routing import STRATEGIES as ROUTING_STRATEGIES
from constructs.private.model_data import KMS_KEY_ARN, S3_PREFIX_URI
from constructs.private.network import SECURITY_GROUP_ID, SUBNET_ID, VPC_ID
from stacks import option_types as t
from stacks.context_rules import AppliesWhen, check_applicability, is_cdk_key, unknown_keys_message
from stacks.guardrail_config import check_guardrail, guardrail
from stacks.model_choice import check_engine, plain_checkpoint, resolve_embedding, resolve_model
from stacks.option_types import ConfigError, Parser, fail

DEPLOYMENTS = ("tgi", "jumpstart")
API_AUTH_MODES = ("iam", "api_key")
PROMPT_FAMILIES = ("falcon", "chatml", "llama2", "mistral", "server")
ENGINES = ("tgi", "vllm")

_TGI_ONLY = "with deployment=jumpstart the image, weights and container environment come from the locked JumpStart spec"
TGI_PATH = AppliesWhen("deployment", ("tgi",), _TGI_ONLY)
JUMPSTART_PATH = AppliesWhen("deployment", ("jumpstart",), "only the JumpStart path reads JumpStart model facts")
API_KEY_QUOTA = AppliesWhen("api_auth", ("api_key",), "only API keys have a usage plan with a daily quota")
API_KEY_THROTTLE = AppliesWhen("api_auth", ("api_key",), "only API keys have a usage plan with a throttle")
# API keys get their own usage-plan rate; IAM callers share the stage's, hence a per-caller rate in the proxy.
IAM_RATE = AppliesWhen("api_auth", ("iam",), "API keys are rate-limited by their usage plan")
IAM_SESSIONS = AppliesWhen("api_auth", ("iam",), "only IAM callers have role sessions")
PREFIX_AWARE = AppliesWhen(
    "routing_strategy", ("prefix_aware",), "only prefix-aware routing reads a prefix length and a concurrency threshold"
)
STORED = AppliesWhen(
    "responses_store", (True,), "without responses_store=true no response is kept (stateless /v1/responses)"
)


@dataclass(frozen=True)
class Option:
    """What a field declares beyond its type and default: how to read it, and what the reference shows."""

    parse: Parser
    shown: str  # the default as the reference states it (it often depends on the model or another key)
    applies: AppliesWhen | None = None  # the shape in which the key has an effect (None: every shape)
    # Keys only one engine reads; the engine is resolved from the model (stacks/config.py), so checked there.
    engine: str | None = None
    top: bool = False  # listed in the README's top options


def key(
    parse: Parser,
    doc: str,
    default: Any = None,
    *,
    shown: str,
    factory: Any = None,
    applies: AppliesWhen | None = None,
    engine: str | None = None,
    top: bool = False,
) -> Any:
    option = Option(parse, shown, applies, engine, top)
    extra = cast(Any, {"option": option})
    if factory is not None:
        return Field(default_factory=factory, description=doc, json_schema_extra=extra)
    return Field(default, description=doc, json_schema_extra=extra)


def option(name: str) -> Option:
    """The schema entry of context key `name`."""
    return cast(Option, cast(dict[str, Any], ContextOptions.model_fields[name].json_schema_extra)["option"])


class ContextOptions(BaseModel):
    """Every context key this app reads, with its parser, default, shape and doc (in the order errors are found)."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)
    _resolved: ModelPreset = PrivateAttr()
    _engine: str = PrivateAttr()
    _instance_type: str | None = PrivateAttr()
    _jumpstart_model: str | None = PrivateAttr()
    _models: tuple[ModelPreset, ...] = PrivateAttr(default=())
    _embedding: ModelPreset | None = PrivateAttr(default=None)

    model: str = key(
        t.model,
        "a catalog preset (`falcon-7b-instruct`, `falcon-40b-instruct`, `falcon-180b-chat`, "
        "`llama-3.1-8b-instruct`, `llama-3.3-70b-instruct`, `qwen2.5-7b-instruct`, "
        "`mistral-7b-instruct-v0.3`) or any Hugging Face model id (`org/name`); a preset's Hub id "
        "(`tiiuae/falcon-7b-instruct`) is that preset, with its size, heads and prompt format; see *Choosing "
        "a model*",
        DEFAULT_MODEL,
        shown="`falcon-40b-instruct`",
        top=True,
    )
    model_params_b: float | None = key(
        t.number(0.01, 2000),
        "size in billions of parameters; only for a Hub model that is neither a preset nor in "
        "`models.lock.json` (`make model-lock` is the better way); refused when it disagrees with a preset's",
        shown="preset's / the lock's",
        applies=TGI_PATH,
    )
    models: tuple[str, ...] = key(
        t.model_list,
        "several chat models on one inference-component endpoint, each its own component with its own GPUs "
        "(vLLM; presets or locked Hub ids; the first is the base of `adapters`); replaces `model`; see "
        "docs/several-models.md",
        factory=tuple,
        shown="none (one model: `model`)",
        applies=TGI_PATH,
    )
    adapters: tuple[tuple[str, str], ...] = key(
        t.adapters,
        "LoRA adapters `name=s3://bucket/prefix/,…` as SageMaker adapter inference components on the (first) "
        "vLLM model; a client asks for one with `model: <name>`",
        factory=tuple,
        shown="none",
        applies=TGI_PATH,
    )
    embedding_model: str | None = key(
        t.embedding_model,
        "an embedding model (`qwen3-embedding-0.6b`, `bge-m3`, or a Hub id in models.lock.json) as its own "
        "component on vLLM's pooling runner, served at `/v1/embeddings`",
        None,
        shown="none",
        applies=TGI_PATH,
    )
    prompt_family: str | None = key(
        t.choice(PROMPT_FAMILIES),
        "`server`: the engine renders the model's own chat template from OpenAI messages; `falcon`, `chatml`,"
        " `llama2`, `mistral`: the proxy renders the prompt",
        shown="`falcon` for the Falcon presets; `server` for models with a chat template; `chatml` for a locked "
        "model without one",
        top=True,
    )
    deployment: str = key(
        t.choice(DEPLOYMENTS),
        "`tgi` (a serving container that downloads the weights from the Hub; `engine` picks TGI or vLLM) or "
        "`jumpstart` (SageMaker JumpStart model)",
        "tgi",
        shown="`tgi`",
        top=True,
    )
    instance_type: str | None = key(
        t.instance_type,
        "SageMaker GPU instance type: one the SageMaker SDK knows the GPUs of, or one of the current types it"
        " lacks (`ml.g5.xlarge`, `ml.g6.*`, `ml.g6e.*`, `ml.p5e.48xlarge`, `ml.p5en.48xlarge`; facts with "
        "their AWS sources in `constructs/facts/gpu_facts.py`)",
        shown="Falcon presets: theirs (`ml.g5.12xlarge`); other models: the cheapest type the memory check accepts "
        "for the engine whose host RAM holds the weights + 8 GiB; JumpStart: the spec's",
        top=True,
    )
    instance_count: int = key(
        t.whole(1, 20),
        "instances behind the endpoint at deployment (1-20); with autoscaling the initial count, between "
        "`min_instances` and `max_instances`",
        1,
        shown="`1` (`min_instances` when that is set)",
    )
    num_gpus: int | None = key(
        t.whole(1, 8),
        "TGI `SM_NUM_GPUS` / vLLM `SM_VLLM_TENSOR_PARALLEL_SIZE`; at most the instance's GPUs, and must "
        "divide the model's attention (and KV) heads",
        None,
        shown="all GPUs the engine can shard the model over",
        applies=TGI_PATH,
    )
    tgi_version: str | None = key(
        t.tgi_version,
        "TGI DLC version; the original guide's `0.9.3` and `0.8.2` resolve too, and the SDK's aliases (`3.3` "
        "→ `3.3.6`); `prompt_family=server` needs ≥ 2.4.0",
        None,
        shown="newest in the SDK (`3.3.6`)",
        applies=TGI_PATH,
        engine="tgi",
    )
    quantize: str | None = key(
        t.choice(QUANTIZE_CHOICES),
        "TGI `HF_MODEL_QUANTIZE`: `bitsandbytes`, `bitsandbytes-nf4`, `bitsandbytes-fp4`, `eetq`, `fp8` "
        "(quantized on the fly), `gptq`, `awq` (need a checkpoint already quantized that way: refused for "
        "presets and locked bf16/fp16 checkpoints); vLLM `SM_VLLM_QUANTIZATION`: `awq`, `gptq`, `fp8`, "
        "`bitsandbytes`",
        None,
        shown="none",
        applies=TGI_PATH,
    )
    max_input_tokens: int = key(
        t.whole(1, 1_000_000),
        "`MAX_INPUT_TOKENS` (`MAX_INPUT_LENGTH` for TGI < 2.0)",
        1024,
        shown="`1024`",
        applies=TGI_PATH,
    )
    max_input_length: int | None = key(
        t.whole(1, 1_000_000), "alias of `max_input_tokens` (the original guide's name)", shown="—", applies=TGI_PATH
    )
    max_total_tokens: int = key(
        t.whole(2, 1_000_000), "`MAX_TOTAL_TOKENS` (input + generated)", 2048, shown="`2048`", applies=TGI_PATH
    )
    max_batch_prefill_tokens: int | None = key(
        t.whole(1, 10_000_000),
        "`MAX_BATCH_PREFILL_TOKENS`",
        None,
        shown="`max(4096, max_input_tokens)`",
        applies=TGI_PATH,
        engine="tgi",
    )
    max_batch_total_tokens: int | None = key(
        t.whole(1, 100_000_000), "`MAX_BATCH_TOTAL_TOKENS`", None, shown="TGI infers it", applies=TGI_PATH, engine="tgi"
    )
    health_check_timeout: int | None = key(
        t.whole(60, 3600),
        "container start-up health-check timeout, 60-3600 s",
        None,
        shown="TGI `600`; vLLM `900` (`1800` from 60B parameters); JumpStart: the spec's, 3600",
    )
    model_download_timeout: int | None = key(
        t.whole(60, 3600), "model data download timeout, 60-3600 s", None, shown="SageMaker's (JumpStart: the spec's)"
    )
    volume_size: int | None = key(
        t.whole(1, 512),
        "EBS volume GB (1-512); only for instance types without local NVMe (`ml.p3`, `ml.m5`, ...), rejected "
        "for g5/p4/p5",
        None,
        shown="none",
    )
    hf_token_secret: str | None = key(
        t.pattern(t.SECRET_REF, "a Secrets Manager secret name or ARN"),
        "Secrets Manager secret name or ARN holding a Hugging Face token, for gated models "
        "(`falcon-180b-chat` requires it). The token ends up in the Model's container environment, which "
        "`DescribeModel` returns in plain text: use a fine-grained read-only token for the gated "
        "repositories, or `model_data` (no token)",
        None,
        shown="none",
        applies=TGI_PATH,
    )
    extra_env: dict[str, str] = key(
        t.extra_env,
        'JSON object of extra container environment variables, e.g. `{"MAX_CONCURRENT_REQUESTS":"64"}` or'
        ' `{"SM_VLLM_ENFORCE_EAGER":"true"}`; secrets (`*_TOKEN`, `*SECRET*`, `*PASSWORD*`, `API_KEY`...)'
        " are refused, and so are variables another key sets (`MAX_TOTAL_TOKENS`: use `-c max_total_tokens`)",
        factory=dict,
        shown="`{}`",
        applies=TGI_PATH,
    )
    region: str | None = key(
        t.region,
        "pin the stack's region (images and JumpStart facts become literals instead of a region mapping); "
        "only regions of the `aws` partition where the Lambda Web Adapter layer is published (see *Costs and "
        "limits*)",
        None,
        shown="agnostic",
    )
    account: str | None = key(
        t.pattern(t.ACCOUNT, "a 12-digit AWS account id"),
        "pin the stack's account (with or without `region`)",
        None,
        shown="agnostic",
    )
    stack_name: str = key(
        t.pattern(t.STACK_NAME, "a CloudFormation stack name"),
        "CloudFormation stack name",
        "LlmChat",
        shown="`LlmChat`",
    )
    api_auth: str = key(
        t.choice(API_AUTH_MODES), "`iam` (SigV4) or `api_key` (API key + usage plan)", "iam", shown="`iam`", top=True
    )
    api_rate_limit: int = key(t.whole(1, 10_000), "stage steady-state requests per second", 10, shown="`10`")
    api_burst_limit: int = key(t.whole(1, 10_000), "stage burst", 20, shown="`20`")
    api_quota_per_day: int = key(
        t.whole(1, 100_000_000),
        "`api_key` mode: requests per key per day",
        10_000,
        shown="`10000`",
        applies=API_KEY_QUOTA,
    )
    reserved_concurrency: int | None = key(
        t.reserved,
        "reserved concurrency of the chat Lambda, or `none` (an account must keep 100 of its Lambda quota unreserved)",
        shown="`api_burst_limit` (20)",
    )
    api_key_rate_limit: int | None = key(
        t.whole(1, 10_000),
        "`api_key` mode: each key's usage-plan requests/s (at most `api_rate_limit`)",
        None,
        shown="stage rate ÷ max(2, keys)",
        applies=API_KEY_THROTTLE,
    )
    api_key_burst_limit: int | None = key(
        t.whole(1, 10_000),
        "`api_key` mode: each key's usage-plan burst (at most `api_burst_limit`)",
        None,
        shown="stage burst ÷ max(2, keys)",
        applies=API_KEY_THROTTLE,
    )
    daily_token_budget: int | None = key(
        t.whole(1, 10**12),
        "tokens (prompt + completion) per caller per UTC day, each request's worst case reserved at "
        "admission; when it does not fit: 429 (see *Token metering and limits*)",
        None,
        shown="no budget",
    )
    max_streams_per_caller: int | None = key(
        t.whole(1, 100),
        "streamed answers one caller may have in progress at once (1-100, at most `reserved_concurrency`); "
        "over it: 429",
        None,
        shown="no limit",
    )
    max_requests_per_caller: int | None = key(
        t.whole(1, 100),
        "model requests of every kind one caller may have in progress at once (1-100); over it: 429",
        None,
        shown="no limit",
    )
    iam_requests_per_minute: int | None = key(
        t.whole(1, 100_000),
        "`iam` mode: model requests per caller per minute (IAM callers otherwise share the stage throttle); "
        "over it: 429 + `Retry-After`",
        None,
        shown="no limit",
        applies=IAM_RATE,
    )
    caller_key: str = key(
        t.choice(("role", "session")),
        "`iam` mode: `session` gives each assumed-role session its own budget and metrics ([security.md](security.md))",
        "role",
        shown="`role`",
        applies=IAM_SESSIONS,
    )
    default_max_tokens: int | None = key(
        t.whole(1, 1_000_000),
        "chat API: `max_tokens` for requests that give none (less than `max_total_tokens`; TGI: at most "
        "`max_total_tokens - max_input_tokens`)",
        None,
        shown="vLLM: the engine's (rest of the context; completions 16); TGI: 512",
    )
    responses_store: bool = key(
        t.boolean,
        "keep `/v1/responses` answers per caller in a KMS-encrypted DynamoDB table, for "
        "`previous_response_id` and `GET /v1/responses/{id}` (see [responses.md](responses.md))",
        False,
        shown="`false` (stateless)",
    )
    responses_retention_days: int = key(
        t.whole(1, 3650),
        "`responses_store`: days a stored response is kept (1-3650; DynamoDB TTL)",
        30,
        shown="`30`",
        applies=STORED,
    )
    jumpstart_model: str | None = key(
        t.pattern(re.compile(r"^[\w.\-]+$"), "a JumpStart model id"),
        "JumpStart model id (`deployment=jumpstart`)",
        None,
        shown="preset's JumpStart id (`huggingface-llm-falcon-40b-instruct-bf16`)",
        applies=JUMPSTART_PATH,
    )
    jumpstart_version: str = key(
        t.pattern(re.compile(r"^(\*|[\w.\-]+)$"), "'*' or a version"),
        "JumpStart model version; `*` means the version the lock pinned",
        "*",
        shown="`*`",
        applies=JUMPSTART_PATH,
    )
    accept_eula: bool = key(
        t.boolean,
        "accept the JumpStart model's EULA (required for models that have one)",
        False,
        shown="`false`",
        applies=JUMPSTART_PATH,
    )
    model_data: str | None = key(
        t.pattern(S3_PREFIX_URI, "an S3 folder URI like s3://bucket/models/name/ (trailing slash)"),
        "`s3://bucket/prefix/`: weights staged in S3 (`make stage-weights`); turns network isolation on, no "
        "Hub token. See *Private deployments* in the README",
        None,
        shown="none (TGI downloads from the Hub)",
    )
    model_data_kms_key: str | None = key(
        t.pattern(KMS_KEY_ARN, "a KMS key ARN"),
        "KMS key ARN of the `model_data` bucket, if it uses SSE-KMS (the role gets `kms:Decrypt` via S3 only)",
        None,
        shown="none",
    )
    vpc: str | None = key(
        t.choice(("create",)),
        "`create`: a new VPC with isolated subnets in 2 AZs, no NAT, the VPC endpoints the endpoint needs; "
        "needs `model_data` (TGI)",
        None,
        shown="none (no VPC)",
    )
    vpc_id: str | None = key(
        t.pattern(VPC_ID, "a VPC id like vpc-0123456789abcdef0"),
        "an existing VPC (`vpc-…`); needs `subnet_ids`; no lookups, synth stays offline",
        None,
        shown="none",
    )
    subnet_ids: tuple[str, ...] = key(
        t.id_list(SUBNET_ID, "subnet", 16),
        "with `vpc_id`: 1-16 comma-separated subnet ids (`subnet-a,subnet-b`)",
        (),
        shown="none",
    )
    security_group_ids: tuple[str, ...] = key(
        t.id_list(SECURITY_GROUP_ID, "sg", 5),
        "with `vpc_id`: 1-5 comma-separated security group ids",
        (),
        shown="one created: no inbound, HTTPS out",
    )
    kms_key: str | None = key(
        t.kms_key,
        "`create` or a KMS key ARN: the endpoint's storage volume (instance types with an EBS volume only) "
        "and the data-capture bucket",
        None,
        shown="none (AWS-managed encryption)",
    )
    data_capture: bool = key(
        t.boolean,
        "write every request and response (prompts and answers) to an encrypted S3 bucket",
        False,
        shown="`false`",
    )
    data_capture_days: int = key(
        t.whole(1, 3650), "days captured data is kept (1-3650); needs `data_capture=true`", 30, shown="`30`"
    )
    capture_readers: tuple[str, ...] = key(
        t.capture_readers,
        "IAM role/user ARNs (wildcards allowed) that may read captured prompts; needs `data_capture=true`",
        (),
        shown="nobody",
    )
    engine: str = key(
        t.choice(ENGINES),
        "serving engine with `deployment=tgi`: `tgi` or `vllm` (see *Engines*)",
        "tgi",
        shown="`tgi` for the Falcon presets and JumpStart, `vllm` for every other model",
        top=True,
    )
    vllm_version: str | None = key(
        t.vllm_version,
        "vLLM DLC version (`engine=vllm`), from the SDK's `huggingface-vllm.json` / `vllm.json`",
        None,
        shown="newest in the SDK (`0.29.0`; AWS image `0.30.0`)",
        engine="vllm",
    )
    vllm_image: str = key(
        t.choice(tuple(VLLM_IMAGE_FRAMEWORKS)),
        "`huggingface` (Hugging Face's vLLM DLC) or `aws` (AWS's vLLM DLC; no LMCache switch)",
        "huggingface",
        shown="`huggingface`",
        engine="vllm",
    )
    gpu_memory_utilization: float | None = key(
        t.number(0.1, 0.99),
        "`SM_VLLM_GPU_MEMORY_UTILIZATION`: share of each GPU vLLM may fill with weights and KV cache "
        "(0.1-0.99); the memory check uses it",
        None,
        shown="`0.9` (vLLM's)",
        engine="vllm",
    )
    max_num_batched_tokens: int | None = key(
        t.whole(1, 10_000_000),
        "`SM_VLLM_MAX_NUM_BATCHED_TOKENS`, at least `max_total_tokens` (vLLM's counterpart of "
        "`max_batch_prefill_tokens`)",
        None,
        shown="vLLM's",
        engine="vllm",
    )
    lmcache: bool = key(
        t.boolean,
        "Hugging Face vLLM DLC's LMCache KV-cache offload to CPU RAM (`HF_ENABLE_LMCACHE`; the image turns it"
        " on by default, we do not)",
        False,
        shown="`false`",
        engine="vllm",
    )
    trust_remote_code: bool = key(
        t.boolean,
        "allow a model whose `config.json` has `auto_map` to run its own Python code from the Hub (pinned to "
        "the locked revision); required for such models, never settable through `extra_env`",
        False,
        shown="`false`",
        applies=TGI_PATH,
    )
    tool_call_parser: str | None = key(
        t.pattern(t.PARSER_NAME, "a vLLM tool-call parser name like hermes"),
        "vLLM `--tool-call-parser` (with `--enable-auto-tool-choice`); OpenAI `tools` need it on vLLM",
        None,
        shown="preset's (`llama3_json`, `hermes`, `mistral`), else none",
        engine="vllm",
    )
    reasoning_parser: str | None = key(
        t.pattern(t.PARSER_NAME, "a vLLM reasoning parser name like deepseek_r1"),
        "vLLM `--reasoning-parser` (e.g. `deepseek_r1`, `qwen3`): answers carry `reasoning_content`",
        None,
        shown="none",
        engine="vllm",
    )
    image_url_domains: tuple[str, ...] = key(
        t.media_domains,
        "vLLM: the one https host media URLs may name ([security.md](security.md))",
        (),
        shown="none: `data:` URLs only",
        engine="vllm",
    )
    pipeline: bool = key(
        t.boolean,
        "add a CDK Pipelines stack that deploys the app from a repository (see *Deploy through a pipeline*); "
        "needs `account` and `region`",
        False,
        shown="`false`",
    )
    pipeline_connection_arn: str | None = key(
        t.pattern(
            t.CONNECTION_ARN,
            "a CodeConnections connection ARN (arn:aws:codeconnections:<region>:<account>:connection/<id>)",
        ),
        "`pipeline=true`: the CodeConnections connection ARN "
        "(`arn:aws:codeconnections:<region>:<account>:connection/<id>`)",
        None,
        shown="—",
    )
    pipeline_repo: str | None = key(
        t.pattern(t.REPO, "a repository as owner/name"),
        "`pipeline=true`: the repository, `owner/name`",
        None,
        shown="—",
    )
    pipeline_branch: str = key(
        t.pattern(t.BRANCH, "a git branch name"),
        "`pipeline=true`: the branch that triggers the pipeline",
        "main",
        shown="`main`",
    )
    pipeline_self_mutation: bool = key(
        t.boolean,
        "`pipeline=true`: the pipeline updates itself from the branch, after the approval (off: update it "
        "with `make deploy`; see [pipeline.md](pipeline.md))",
        False,
        shown="`false`",
    )
    cfn_validation: bool = key(
        t.boolean,
        "also run CDK's built-in CloudFormation template validator on every synth (about 3 s more; a finding "
        "fails synth, as cdk.json sets `@aws-cdk/core:validateAgainstDefaultRules`). `make test` runs it, strict, "
        "on every shape it synthesizes (see [benchmarks.md](benchmarks.md))",
        False,
        shown="`false`",
    )
    guardrail: GuardrailChoice | None = key(
        guardrail,
        "an Amazon Bedrock guardrail on prompts and answers: `create` (one with default content filters) or "
        "`<id>:<version>` of yours; blocked ones end in `content_filter` (see [guardrails.md](guardrails.md))",
        None,
        shown="none",
    )
    scale_to_zero: bool = key(
        t.boolean,
        "host the model in an inference component that scales to zero instances when idle (see *Scale to "
        "zero, active hours and autoscaling*)",
        False,
        shown="`false`",
        top=True,
    )
    idle_minutes: int | None = key(
        t.whole(*IDLE_MINUTES_RANGE),
        "with `scale_to_zero`: minutes without a request before the model goes to zero (5-1440)",
        None,
        shown="`15`",
        top=True,
    )
    active_hours: ActiveHours | None = key(
        t.active_hours,
        'with `scale_to_zero`: `"DAYS HH:MM-HH:MM TIMEZONE"`, e.g. `"MON-FRI 08:00-19:00 Europe/Berlin"`;'
        " days `MON`…`SUN` as ranges and/or lists (`MON-WED,FRI`), an IANA time zone; at least one copy "
        "inside, zero outside",
        None,
        shown="none (any time)",
        top=True,
    )
    # Bounded so a held stream plus one SageMaker stream fit Lambda's and API Gateway's 15 minutes
    # (constructs/api/time_limits.py).
    wake_wait_seconds: int | None = key(
        t.whole(0, time_limits.WAKE_WAIT_MAX_SECONDS),
        "with `scale_to_zero`: seconds the API holds a call that meets no capacity while it wakes the model at "
        "once (`0`: no wake-up, 503 + Retry-After at once); see [wake-up.md](wake-up.md)",
        None,
        shown=f"`{time_limits.WAKE_WAIT_DEFAULT_SECONDS}`",
    )
    min_instances: int | None = key(
        t.whole(0, 20),
        "autoscaling floor; `0` only with `scale_to_zero` (which always has floor 0)",
        None,
        shown="`instance_count`",
        top=True,
    )
    max_instances: int | None = key(
        t.whole(1, 20),
        "autoscaling ceiling; above `min_instances` it turns on autoscaling; with `scale_to_zero` the most "
        "instances it may start",
        None,
        shown="`instance_count`",
        top=True,
    )
    target_concurrency: int | None = key(
        t.whole(1, 1000),
        "autoscaling target: concurrent requests per instance (always-on) or per copy (scale to zero); needs "
        "autoscaling",
        None,
        shown="`4`",
    )
    scale_out_cooldown: int | None = key(
        t.whole(0, 3600), "autoscaling: seconds after a scale-out before the next (0-3600)", None, shown="`60`"
    )
    scale_in_cooldown: int | None = key(
        t.whole(0, 3600),
        "always-on autoscaling: seconds after a scale-in before the next (0-3600)",
        None,
        shown="`600`",
    )
    deployment_strategy: str = key(
        t.choice(STRATEGIES),
        "how an endpoint update shifts traffic, with automatic rollback on alarms: `auto` (`canary` with 2+ "
        "instances, else `all_at_once`), `all_at_once`, `canary`, `linear`, `rolling` (these three need "
        "`instance_count` ≥ 2), `none` (SageMaker's default, no rollback); see *Operations*",
        "auto",
        shown="`auto`",
    )
    routing_strategy: str | None = key(
        t.choice(tuple(ROUTING_STRATEGIES)),
        "how the endpoint spreads requests over its instances and copies: `least_outstanding_requests`, "
        "`random`, `prefix_aware` (requests whose body starts alike go to the same instance, whose prefix cache "
        "then already holds the conversation; see [operations.md](operations.md#prefix-aware-routing))",
        None,
        shown="SageMaker's default (`least_outstanding_requests` with an inference component)",
    )
    prefix_length: int | None = key(
        t.whole(*PREFIX_LENGTH_RANGE),
        "`prefix_aware`: how many bytes from the start of the request body the endpoint routes by "
        f"({PREFIX_LENGTH_RANGE[0]}-{PREFIX_LENGTH_RANGE[1]})",
        None,
        shown=f"`{DEFAULT_PREFIX_LENGTH}`",
        applies=PREFIX_AWARE,
    )
    prefix_concurrency: int | None = key(
        t.whole(*CONCURRENCY_THRESHOLD_RANGE),
        "`prefix_aware`: in-flight requests on the chosen instance (or copy) before the endpoint routes elsewhere "
        f"({CONCURRENCY_THRESHOLD_RANGE[0]}-{CONCURRENCY_THRESHOLD_RANGE[1]})",
        None,
        shown=f"`{DEFAULT_CONCURRENCY_THRESHOLD}`",
        applies=PREFIX_AWARE,
    )
    alarm_email: str | None = key(
        t.pattern(EMAIL, "an e-mail address like ops@example.com"),
        "e-mail address that receives every alarm (SNS topic encrypted with its own KMS key; confirm the "
        "subscription e-mail)",
        None,
        shown="none",
        top=True,
    )
    api_keys: tuple[str, ...] = key(
        t.api_keys,
        "`api_key` mode: one API key and usage plan (rate, burst, daily quota) per named consumer, e.g. "
        "`alice,bob` (1-50 names: lower-case letters and digits, `-` between them)",
        (),
        shown="one shared key",
    )

    @model_validator(mode="before")
    @classmethod
    def _ours_only(cls, context: Any) -> Any:
        """Drop the CDK CLI's own keys; refuse any other unknown key, suggesting the one probably meant."""
        known = list(cls.model_fields)
        unknown = sorted(k for k in context if not is_cdk_key(k, known) and k not in cls.model_fields)
        if unknown:
            raise ConfigError(unknown_keys_message(unknown, known))
        return {k: value for k, value in context.items() if k in cls.model_fields and value is not None}

    @field_validator("*", mode="before")
    @classmethod
    def _parse(cls, value: Any, info: ValidationInfo) -> Any:
        assert info.field_name is not None
        parse = option(info.field_name).parse
        try:
            return parse(info.field_name, value)
        except TypeError:  # e.g. a JSON list where a version string belongs (`value in dict` cannot hash it)
            raise fail(info.field_name, value, f"expected {t.allowed(parse)}") from None

    @model_validator(mode="after")
    def _applies(self) -> ContextOptions:
        """A key that has no effect in the chosen shape is an error saying why, never silently dropped."""
        ignored = check_applicability(self.given(), {k: getattr(self, k) for k in SHAPE_KEYS}, APPLIES_WHEN)
        if ignored:
            raise ConfigError(ignored)
        return self

    @model_validator(mode="after")
    def _alias(self) -> ContextOptions:
        if {"max_input_length", "max_input_tokens"} <= self.model_fields_set:
            if self.max_input_tokens != self.max_input_length:
                raise ConfigError("context keys 'max_input_tokens' and 'max_input_length' disagree; give one of them")
        return self

    @model_validator(mode="after")
    def _model(self) -> ContextOptions:
        """Resolve the model (catalog, models.lock.json) and its engine, then the instance type they default to."""
        # `models` replaces `model` (cdk.json sets a default `model`, so both are usually present).
        first = self.models[0] if self.models else self.model
        self._resolved = model = resolve_model(first, self.model_params_b, self.prompt_family)
        self._engine = engine = check_engine(self, model)
        problem = quantize_problem(
            self.quantize,
            model_id=model.hf_model_id,
            checkpoint_quantization=None,
            checkpoint_known=plain_checkpoint(model),
        )
        if problem:
            raise fail("quantize", self.quantize, problem)
        self._instance_type = self.instance_type
        if self.several:
            self._several_models(model, engine)
            return self
        if "instance_type" not in self.model_fields_set and self.deployment == "tgi":
            self._instance_type = default_instance(
                model,
                engine=engine,
                quantize=self.quantize,
                max_total_tokens=self.max_total_tokens,
                gpu_memory_utilization=self.gpu_memory_utilization,
            )
        # Otherwise None with JumpStart: the spec's default, read from the lock.
        return self

    @property
    def several(self) -> bool:
        """Several components on one endpoint: chat models, adapters or an embedding model were asked for."""
        return bool(self.models or self.adapters or self.embedding_model)

    def _several_models(self, first: ModelPreset, engine: str) -> None:
        """Resolve every model of the several-models shape, check they run on vLLM and fit one instance type."""
        key_name = "models" if self.models else "adapters" if self.adapters else "embedding_model"
        if engine != "vllm":
            raise fail(
                key_name,
                getattr(self, key_name),
                f"several models share an endpoint as vLLM inference components; {first.name} is served by "
                f"{engine}: add -c engine=vllm or pick a vLLM model",
            )
        # vpc/vpc_id: the private-hosting options reach the first model's Model only (not built for the others).
        for other in ("model_data", "num_gpus", "quantize", "vpc", "vpc_id"):
            if other in self.model_fields_set:
                raise fail(
                    other,
                    getattr(self, other),
                    f"applies to one model; with {key_name} each component is sized and loaded on its own",
                )
        chat = [first] + [resolve_model(name, None, None) for name in self.models[1:]]
        for m in chat:
            if not m.chat_template:
                raise fail("models", ",".join(self.models), f"{m.hf_model_id} has no chat template for vLLM to render")
            if m.gated and "hf_token_secret" not in self.model_fields_set:
                raise fail(
                    "models",
                    ",".join(self.models),
                    f"{m.hf_model_id} is gated on the Hugging Face Hub: pass -c hf_token_secret=<secret>",
                )
        self._models = tuple(chat)
        self._embedding = resolve_embedding(self.embedding_model) if self.embedding_model else None
        everything = [*chat, *([self._embedding] if self._embedding else [])]
        fraction = self.gpu_memory_utilization if self.gpu_memory_utilization is not None else 0.9
        if self._instance_type is None:
            fitting = instances_for(everything, max_total_tokens=self.max_total_tokens, memory_fraction=fraction)
            if not fitting:
                raise fail(key_name, getattr(self, key_name), "no GPU instance type holds all these models")
            self._instance_type = fitting[0]
        try:
            plan_components(
                everything, self._instance_type, max_total_tokens=self.max_total_tokens, memory_fraction=fraction
            )
        except ValueError as err:
            raise fail("instance_type", self._instance_type, str(err)) from None

    def several_models(self) -> tuple[tuple[ModelPreset, ...], ModelPreset | None]:
        """The resolved chat models (first: the base of the adapters) and the embedding model, when several."""
        return self._models, self._embedding

    @model_validator(mode="after")
    def _tokens(self) -> ContextOptions:
        max_input, max_total, default_max = self.input_tokens(), self.max_total_tokens, self.default_max_tokens
        if max_total <= max_input:
            raise fail("max_total_tokens", max_total, f"must be greater than max_input_tokens ({max_input})")
        if default_max is not None and default_max >= max_total:
            raise fail("default_max_tokens", default_max, f"must be less than max_total_tokens ({max_total})")
        if default_max is not None and self._engine == "tgi" and default_max > max_total - max_input:
            raise fail(
                "default_max_tokens",
                default_max,
                f"TGI generates at most max_total_tokens - max_input_tokens = {max_total - max_input} new tokens",
            )
        prefill = self.max_batch_prefill_tokens
        if prefill is not None and prefill < max_input:
            raise fail("max_batch_prefill_tokens", prefill, f"must be at least max_input_tokens ({max_input})")
        batch_total = self.max_batch_total_tokens
        if batch_total is not None and batch_total < max_total:
            raise fail("max_batch_total_tokens", batch_total, f"must be at least max_total_tokens ({max_total})")
        gpus = gpu_table()[self._instance_type].count if self._instance_type else 8
        if self.num_gpus is not None and self.num_gpus > gpus:
            raise fail("num_gpus", self.num_gpus, f"{self._instance_type} has {gpus} GPU(s)")
        return self

    @model_validator(mode="after")
    def _private(self) -> ContextOptions:
        """Cross-checks of the private-deployment keys (README "Private deployments")."""
        given = self.model_fields_set
        if "model_data" in given and self.deployment == "jumpstart":
            raise fail(
                "model_data",
                self.model_data,
                "not with deployment=jumpstart: JumpStart already loads its artifacts from S3 (the locked JumpStart "
                "bucket) with network isolation on",
            )
        if "model_data" in given and "hf_token_secret" in given:
            raise ConfigError(
                "context keys 'model_data' and 'hf_token_secret' exclude each other: weights from S3 need no "
                "Hugging Face token, and the container runs without network access"
            )
        if "model_data_kms_key" in given and "model_data" not in given:
            raise ConfigError("context key 'model_data_kms_key' needs 'model_data' (the bucket it decrypts)")
        if "vpc" in given and given & {"vpc_id", "subnet_ids", "security_group_ids"}:
            raise ConfigError(
                "context key 'vpc=create' builds a new VPC: drop 'vpc_id', 'subnet_ids' and 'security_group_ids', "
                "or drop 'vpc' to use your VPC"
            )
        for dependent in ("subnet_ids", "security_group_ids"):
            if dependent in given and "vpc_id" not in given:
                raise ConfigError(f"context key {dependent!r} needs 'vpc_id' (the VPC the ids belong to)")
        if "vpc_id" in given and "subnet_ids" not in given:
            raise ConfigError("context key 'vpc_id' needs 'subnet_ids' (comma-separated subnets of that VPC)")
        if self.vpc == "create" and self.deployment == "tgi" and "model_data" not in given:
            raise ConfigError(
                "context key 'vpc=create' makes a VPC without internet access, so the container cannot download "
                "the weights from the Hugging Face Hub: stage them in S3 (make stage-weights MODEL=... BUCKET=...) "
                "and pass -c model_data=s3://bucket/prefix/"
            )
        for dependent in ("data_capture_days", "capture_readers"):
            if dependent in given and not self.data_capture:
                raise ConfigError(f"context key {dependent!r} needs data_capture=true")
        return self

    @model_validator(mode="after")
    def _gated(self) -> ContextOptions:
        model = self._resolved
        if model.gated and not self.model_fields_set & {"hf_token_secret", "model_data"} and self.deployment == "tgi":
            raise ConfigError(
                f"model {model.hf_model_id!r} is gated on the Hugging Face Hub: accept its licence there and pass a "
                "token stored in Secrets Manager with -c hf_token_secret=<secret name or ARN>"
            )
        if self.api_burst_limit < self.api_rate_limit:
            raise fail("api_burst_limit", self.api_burst_limit, "must be at least api_rate_limit")
        return self

    @model_validator(mode="after")
    def _pipeline(self) -> ContextOptions:
        """With pipeline=true the source and the target account/region are required; without it, no pipeline keys."""
        given = self.model_fields_set
        if not self.pipeline:
            named = [k for k in PIPELINE_KEYS if k in given]
            if named:
                raise ConfigError(f"context key(s) {', '.join(map(repr, sorted(named)))} need -c pipeline=true")
            return self
        missing = [k for k in ("pipeline_connection_arn", "pipeline_repo", "account", "region") if k not in given]
        if missing:
            raise ConfigError(
                f"context key 'pipeline': true requires {', '.join(map(repr, missing))}: CDK Pipelines deploy to "
                "one account and region, and read the source through a CodeConnections connection "
                "(e.g. -c pipeline_connection_arn=arn:aws:codeconnections:us-east-1:123456789012:connection/<id> "
                "-c pipeline_repo=owner/name -c account=123456789012 -c region=us-east-1)"
            )
        return self

    @model_validator(mode="after")
    def _guardrail(self) -> ContextOptions:
        check_guardrail(self.guardrail, self.region)
        return self

    @model_validator(mode="after")
    def _strategy(self) -> ContextOptions:
        strategy = self.deployment_strategy
        if "deployment_strategy" in self.model_fields_set:
            try:
                resolve_strategy(strategy, self.instance_count)
            except ValueError as err:
                reason = str(err).removeprefix(f"deployment_strategy {strategy!r} ")
                raise fail("deployment_strategy", strategy, reason) from None
        if self.scale_to_zero and strategy not in ("auto", "rolling", "none"):
            raise fail(
                "deployment_strategy",
                strategy,
                "with scale_to_zero=true the model is updated copy by copy (rolling, rolled back on alarms): "
                "allowed values there: auto, rolling, none",
            )
        return self

    @model_validator(mode="after")
    def _api(self) -> ContextOptions:
        """Throttles nest: a key's inside the stage's, a caller's streams inside the function's concurrency."""
        given = self.model_fields_set
        if "api_keys" in given and self.api_auth != "api_key":
            raise fail("api_keys", ",".join(self.api_keys), "named API keys need -c api_auth=api_key")
        for name, stage in (("api_key_rate_limit", "api_rate_limit"), ("api_key_burst_limit", "api_burst_limit")):
            value, stage_value = getattr(self, name), getattr(self, stage)
            if value is not None and value > stage_value:
                raise fail(name, value, f"must be at most {stage} ({stage_value}): the stage throttles first")
        rate, burst = self.api_key_rate_limit, self.api_key_burst_limit
        if rate is not None and burst is not None and burst < rate:
            raise fail("api_key_burst_limit", burst, f"must be at least api_key_rate_limit ({rate})")
        concurrency = self.concurrency()
        for name in ("max_streams_per_caller", "max_requests_per_caller"):
            value = getattr(self, name)
            if value is not None and concurrency is not None and value > concurrency:
                raise fail(name, value, f"must be at most reserved_concurrency ({concurrency})")
        return self

    @model_validator(mode="after")
    def _jumpstart(self) -> ContextOptions:
        self._jumpstart_model = self.jumpstart_model
        if self.deployment == "jumpstart" and self.jumpstart_model is None:
            if self._resolved.jumpstart_model is None:
                raise ConfigError(
                    f"context key 'jumpstart_model' is required with deployment=jumpstart for model "
                    f"{self._resolved.name!r}; presets with a JumpStart id: "
                    + ", ".join(f"{p.name} ({p.jumpstart_model})" for p in PRESETS.values() if p.jumpstart_model)
                )
            self._jumpstart_model = self._resolved.jumpstart_model
        return self

    @model_validator(mode="after")
    def _scaling(self) -> ContextOptions:
        self.instances()
        return self

    @classmethod
    def declared(cls, name: str) -> Option:
        return option(name)

    def resolved(self) -> tuple[ModelPreset, str, str | None, str | None]:
        """What the model validators resolved: the model, its engine, the instance type, the JumpStart model."""
        return self._resolved, self._engine, self._instance_type, self._jumpstart_model

    def given(self) -> list[str]:
        """The keys the context set, in declaration order."""
        return [k for k in type(self).model_fields if k in self.model_fields_set]

    def input_tokens(self) -> int:
        """max_input_tokens, or its alias max_input_length (the original guide's name) when that is given."""
        return self.max_input_length if self.max_input_length is not None else self.max_input_tokens

    def concurrency(self) -> int | None:
        """Reserved by default: the chat API neither takes the account's shared pool nor is starved by other
        functions; sized to the stage burst so raising the stage limits raises it too."""
        given = "reserved_concurrency" in self.model_fields_set
        return self.reserved_concurrency if given else self.api_burst_limit

    def instances(self) -> tuple[int, int | None, int | None]:
        """(instance_count, min_instances, max_instances) of the hosting shape: scale to zero, or always-on
        instances with optional autoscaling; raises when the keys contradict the shape."""
        given, count = self.model_fields_set, self.instance_count
        if self.scale_to_zero:
            if self.min_instances not in (None, 0):
                raise fail(
                    "min_instances",
                    self.min_instances,
                    "scale_to_zero=true always scales down to 0 instances; use active_hours to keep the model up "
                    "during working hours, or drop scale_to_zero for an always-on floor",
                )
            if "scale_in_cooldown" in given:
                raise ConfigError(
                    "context key 'scale_in_cooldown' does not apply with scale_to_zero=true (copies go when the "
                    "endpoint has been idle for idle_minutes); remove it or set idle_minutes"
                )
            most = self.max_instances if self.max_instances is not None else count
            if count > most:
                raise fail("instance_count", count, f"must be at most max_instances ({most})")
            return count, self.min_instances, most
        for name in ("idle_minutes", "active_hours", "wake_wait_seconds"):
            if name in given:
                raise ConfigError(f"context key {name!r} requires scale_to_zero=true (add -c scale_to_zero=true)")
        if self.min_instances == 0:
            raise fail("min_instances", 0, "0 instances needs scale_to_zero=true; always-on endpoints keep at least 1")
        low = self.min_instances if self.min_instances is not None else count
        high = self.max_instances if self.max_instances is not None else max(low, count)
        if high < low:
            raise fail("max_instances", high, f"must be at least min_instances ({low})")
        count = count if "instance_count" in given else low
        if not low <= count <= high:
            raise fail("instance_count", count, f"must lie between min_instances ({low}) and max_instances ({high})")
        if high == low:
            extra = sorted(k for k in ("target_concurrency", "scale_out_cooldown", "scale_in_cooldown") if k in given)
            if extra:
                raise ConfigError(
                    f"context key(s) {', '.join(map(repr, extra))} need autoscaling: set max_instances above "
                    f"min_instances ({low}), or scale_to_zero=true"
                )
        return count, low, high

    @classmethod
    def read(cls, context: Any) -> ContextOptions:
        """The context as options; the first problem found is raised as ConfigError (never a ValidationError)."""
        try:
            return cls.model_validate(dict(context))
        except ValidationError as err:
            first = err.errors()[0]
            cause = first.get("ctx", {}).get("error")
            if isinstance(cause, ConfigError):
                raise cause from None
            name = ".".join(map(str, first["loc"])) or "context"
            raise ConfigError(f"context key {name!r}: {first.get('input')!r} is not allowed; {first['msg']}") from None


PIPELINE_KEYS = ("pipeline_connection_arn", "pipeline_repo", "pipeline_branch", "pipeline_self_mutation")
APPLIES_WHEN: dict[str, AppliesWhen] = {
    k: rule for k in ContextOptions.model_fields if (rule := option(k).applies) is not None
}
SHAPE_KEYS = sorted({rule.shape_key for rule in APPLIES_WHEN.values()})
ENGINE_ONLY = {k: option(k).engine for k in ContextOptions.model_fields if option(k).engine is not None}
