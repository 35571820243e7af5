"""VllmEndpoint: a Hugging Face model on a vLLM Deep Learning Container behind a SageMaker real-time endpoint.

The container contract (checked in the DLC sources, not runnable here):
- Hugging Face's vLLM DLC `sagemaker_entrypoint.sh` ("Mirrors the AWS base contract") turns every
  `SM_VLLM_FOO_BAR=value` into the vLLM CLI argument `--foo-bar value`; `true` becomes a bare flag and `false`
  drops it; `--port 8080` is always added; `SM_VLLM_MODEL` wins over `/opt/ml/model` and `HF_MODEL_ID`. (AWS's
  older `vllm/build_artifacts/sagemaker_entrypoint.sh` in aws/deep-learning-containers passed `true` as a value;
  the bare-flag handling of AWS's current images, their `sagemaker_args.py`, is unverified: docs/sources.md.)
- The HF DLC sources `hf_optimizations.sh`, whose `HF_ENABLE_LMCACHE` defaults to 1: a KV-cache offload to CPU
  RAM sized at half of the host's memory. We turn it off unless asked for (it competes with the host RAM that
  loading the weights needs, and disables the expandable-segments allocator).
- vLLM serves OpenAI JSON at `/invocations` (vllm `entrypoints/sagemaker/api_router.py`); the `model` field must
  equal `--served-model-name`, so the chat proxy sends exactly SM_VLLM_SERVED_MODEL_NAME (= its MODEL_ID).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import aws_cdk as cdk
from aws_cdk import aws_iam as iam

from constructs import Construct
from constructs.facts.catalog import (
    VLLM_GPU_MEMORY_UTILIZATION,
    VLLM_IMAGE_FRAMEWORKS,
    VLLM_QUANTIZE_CHOICES,
    SizingReport,
    check_fit,
    valid_shards,
)
from constructs.facts.presets import Architecture
from constructs.facts.sdk_data import ImageFamily, gpu_info, resolve_image
from constructs.hosting.components import ContainerSpec
from constructs.hosting.endpoint import HostedEndpoint
from constructs.hosting.shape import Hosting
from constructs.private.model_data import offline_environment
from constructs.private.private_hosting import PrivateSettings

IMAGE_FRAMEWORKS = VLLM_IMAGE_FRAMEWORKS
# Start-up = download + load the weights + capture CUDA graphs; HF's SageMaker vLLM notebook uses 900 s. Weights
# of 70B+ (130+ GiB) take most of that just to download, so they get the API's maximum.
HEALTH_CHECK_SECONDS = 900
HEALTH_CHECK_SECONDS_LARGE = 1800
LARGE_MODEL_PARAMS_B = 60.0
# Host AMI per CUDA major version of the image (the tag's `cuXYZ`). Names and drivers from the SageMaker API model
# (botocore sagemaker/2017-07-24 service-2.json, ProductionVariant.InferenceAmiVersion: "al2023-ami-sagemaker-
# inference-gpu-4-1: NVIDIA driver 580, CUDA 13.0"), the same enum CloudFormation's AWS::SageMaker::EndpointConfig
# schema lists. CUDA 12 images run on SageMaker's default host through CUDA minor-version compatibility (None).
INFERENCE_AMI_BY_CUDA_MAJOR: dict[int, str | None] = {
    11: None,
    12: None,
    13: "al2023-ami-sagemaker-inference-gpu-4-1",
}
# Keys the construct owns; extra_env may not override them (nor switch on remote code behind trust_remote_code).
RESERVED_ENV = frozenset(
    {
        "HF_MODEL_ID",
        "SM_VLLM_MODEL",
        "SM_VLLM_SERVED_MODEL_NAME",
        "SM_VLLM_REVISION",
        "SM_VLLM_TOKENIZER_REVISION",
        "SM_VLLM_CODE_REVISION",
        "SM_VLLM_TENSOR_PARALLEL_SIZE",
        "SM_VLLM_MAX_MODEL_LEN",
        "SM_VLLM_MAX_NUM_BATCHED_TOKENS",
        "SM_VLLM_GPU_MEMORY_UTILIZATION",
        "SM_VLLM_QUANTIZATION",
        "SM_VLLM_TRUST_REMOTE_CODE",
        "SM_VLLM_ENABLE_AUTO_TOOL_CHOICE",
        "SM_VLLM_TOOL_CALL_PARSER",
        "SM_VLLM_REASONING_PARSER",
        "SM_VLLM_PORT",
        "SM_VLLM_KV_TRANSFER_CONFIG",
        "HF_ENABLE_LMCACHE",
        "SM_VLLM_ALLOWED_MEDIA_DOMAINS",
        "SM_VLLM_ALLOWED_LOCAL_MEDIA_PATH",
        "VLLM_MEDIA_URL_ALLOW_REDIRECTS",
        "SM_VLLM_ENABLE_LOG_REQUESTS",
        "SM_VLLM_ENABLE_LOG_OUTPUTS",
        "SM_VLLM_ENABLE_LORA",
        "SM_VLLM_MAX_LORAS",
        "VLLM_ALLOW_RUNTIME_LORA_UPDATING",
        "SM_VLLM_RUNNER",
        "HF_TOKEN",
        "HUGGING_FACE_HUB_TOKEN",
    }
)
# vLLM fetches http(s) media URLs itself and checks the host only when --allowed-media-domains is set
# (vllm 0.29 multimodal/media/connector.py, MediaConnector._assert_url_in_allowed_media_domains). With no host
# allowed, the container still gets a list: one name under .invalid, which never resolves (RFC 6761 section 6.4),
# so every http(s) fetch is refused in the container too, not only by the proxy (chatapi/media.py).
NO_MEDIA_HOST = "media.invalid"
_CUDA = re.compile(r"-cu(\d+)(?:-|$)")


def inference_ami_for(image: ImageFamily) -> str | None:
    """The InferenceAmiVersion the image's CUDA needs, from its tag; an image we cannot place fails synth."""
    found = _CUDA.search(image.tag)
    major = int(found.group(1)[:2]) if found else None
    if major is None or major not in INFERENCE_AMI_BY_CUDA_MAJOR:
        raise ValueError(
            f"{image.framework} {image.version} ({image.tag}): cannot tell which SageMaker host AMI its CUDA "
            f"needs (known CUDA majors: {', '.join(map(str, INFERENCE_AMI_BY_CUDA_MAJOR))}); pick another "
            "vllm_version"
        )
    return INFERENCE_AMI_BY_CUDA_MAJOR[major]


def default_health_check(params_b: float | None) -> int:
    large = params_b is not None and params_b >= LARGE_MODEL_PARAMS_B
    return HEALTH_CHECK_SECONDS_LARGE if large else HEALTH_CHECK_SECONDS


@dataclass(frozen=True)
class VllmModel:
    """What vLLM serves and with which limits, as `SM_VLLM_*` container settings."""

    hf_model_id: str
    served_model_name: str | None = None  # default: hf_model_id
    revision: str | None = None
    image: str = "huggingface"
    vllm_version: str | None = None
    params_b: float | None = None
    architecture: Architecture | None = None
    context_length: int | None = None
    num_gpus: int | None = None
    max_total_tokens: int = 2048
    max_num_batched_tokens: int | None = None
    gpu_memory_utilization: float = VLLM_GPU_MEMORY_UTILIZATION
    quantize: str | None = None
    hf_token_secret: str | None = None
    trust_remote_code: bool = False
    lmcache: bool = False
    tool_call_parser: str | None = None
    reasoning_parser: str | None = None
    # The one https host media URLs may name (the proxy checks it too); empty: data: URLs only.
    media_domains: tuple[str, ...] = ()
    extra_env: Mapping[str, str] = field(default_factory=dict)
    # "pooling": vLLM's pooling runner (`--runner pooling`, vllm 0.29 config/model.py RunnerOption), for embedding
    # models served at /v1/embeddings; None: vLLM's choice from the architecture (generate for chat models).
    runner: str | None = None
    # LoRA adapters the engine may hold at once (0: LoRA off). SageMaker's adapter inference components load
    # each adapter through the container's load-adapter hook (vllm 0.29 entrypoints/serve/lora/api_router.py,
    # register_load_adapter_handler), which vLLM registers only with VLLM_ALLOW_RUNTIME_LORA_UPDATING on.
    max_loras: int = 0

    def __post_init__(self) -> None:
        if self.image not in IMAGE_FRAMEWORKS:
            raise ValueError(f"image {self.image!r} is not supported; allowed: {', '.join(IMAGE_FRAMEWORKS)}")
        if self.quantize is not None and self.quantize not in VLLM_QUANTIZE_CHOICES:
            raise ValueError(
                f"quantize {self.quantize!r} is not a vLLM method we size for; allowed: "
                f"{', '.join(VLLM_QUANTIZE_CHOICES)}"
            )
        if not 0.1 <= self.gpu_memory_utilization <= 0.99:
            raise ValueError(f"gpu_memory_utilization {self.gpu_memory_utilization} must be from 0.1 to 0.99")
        if self.context_length is not None and self.max_total_tokens > self.context_length:
            raise ValueError(
                f"max_total_tokens {self.max_total_tokens} exceeds {self.hf_model_id}'s context length "
                f"{self.context_length} (config.json max_position_embeddings); vLLM refuses to start"
            )
        if self.max_num_batched_tokens is not None and self.max_num_batched_tokens < self.max_total_tokens:
            # Without chunked prefill vLLM rejects a budget below max_model_len; with it, a small budget only
            # slows long prompts. Keeping it >= max_model_len is valid either way.
            raise ValueError(
                f"max_num_batched_tokens {self.max_num_batched_tokens} must be at least max_total_tokens "
                f"{self.max_total_tokens}"
            )
        if self.lmcache and self.image != "huggingface":
            raise ValueError("lmcache is a feature of Hugging Face's vLLM DLC (image huggingface), not AWS's")
        clash = sorted(RESERVED_ENV & set(self.extra_env))
        if clash:
            raise ValueError(f"extra_env may not set {', '.join(clash)}: use the VllmModel field instead")

    @property
    def model_name(self) -> str:
        return self.served_model_name or self.hf_model_id


class VllmEndpoint(HostedEndpoint):
    """Execution role, Model on a vLLM DLC (tag pinned per region), EndpointConfig and Endpoint.

    Defaults: Hugging Face's vLLM DLC at the newest version the SageMaker SDK lists, tensor parallel over every
    GPU that divides the attention heads, max_model_len = max_total_tokens, 90 % of GPU memory, LMCache off, the
    host AMI the image's CUDA needs, 900 s start-up health check (1800 s from 60B parameters). Synth fails when
    weights + one max_model_len sequence of KV cache would not fit the memory vLLM may use.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model: VllmModel,
        hosting: Hosting | None = None,
        role: iam.IRole | None = None,
        private: PrivateSettings | None = None,
    ) -> None:
        settings = model
        image = resolve_image(IMAGE_FRAMEWORKS[settings.image], settings.vllm_version)
        ami = inference_ami_for(image)
        hosting = hosting or Hosting(health_check_timeout=default_health_check(settings.params_b))
        if hosting.inference_ami_version is None and ami is not None:
            hosting = dataclasses.replace(hosting, inference_ami_version=ami)
        num_gpus = _tensor_parallel(settings, hosting.instance_type)
        sizing = _check_fit(settings, hosting.instance_type, num_gpus)
        super().__init__(scope, construct_id)
        # num_gpus: the GPUs the engine uses (tensor parallel size), like TgiEndpoint's SM_NUM_GPUS.
        self.settings, self.image, self.num_gpus, self.sizing = settings, image, num_gpus, sizing
        self._serve(
            image=image, environment=self.environment, role=role, hosting=hosting, private=private, engine="vLLM"
        )

    def environment(self) -> dict[str, str]:
        assert self.num_gpus is not None  # set in __init__ before _serve reads the environment
        env = vllm_environment(self.settings, self.num_gpus)
        if self.private is not None and self.private.model_data is not None:
            # The vLLM DLC serves a non-empty /opt/ml/model when SM_VLLM_MODEL is unset (vllm-on-sagemaker.md:
            # "Model source, first found: SM_VLLM_MODEL, a non-empty /opt/ml/model, HF_MODEL_ID").
            return offline_environment(env, model_id_key=None, drop=VLLM_HUB_ENV)
        return env


def vllm_environment(s: VllmModel, num_gpus: int) -> dict[str, str]:
    """The container environment (`SM_VLLM_*` and friends) for `s` on `num_gpus` GPUs, weights from the Hub."""
    env = {
        "SM_VLLM_MODEL": s.hf_model_id,
        "SM_VLLM_SERVED_MODEL_NAME": s.model_name,
        "SM_VLLM_TENSOR_PARALLEL_SIZE": str(num_gpus),
        # Always set: without it vLLM reserves the model's full context (e.g. 131072 tokens), whose KV cache
        # may not fit, and the proxy's limits would disagree with the engine's.
        "SM_VLLM_MAX_MODEL_LEN": str(s.max_total_tokens),
        "SM_VLLM_GPU_MEMORY_UTILIZATION": f"{s.gpu_memory_utilization:g}",
    }
    if s.revision is not None:
        # Pin weights, tokenizer (and remote code) to the locked commit: a redeploy serves the same model.
        env["SM_VLLM_REVISION"] = s.revision
        env["SM_VLLM_TOKENIZER_REVISION"] = s.revision
        if s.trust_remote_code:
            env["SM_VLLM_CODE_REVISION"] = s.revision
    if s.trust_remote_code:
        env["SM_VLLM_TRUST_REMOTE_CODE"] = "true"
    if s.max_num_batched_tokens is not None:
        env["SM_VLLM_MAX_NUM_BATCHED_TOKENS"] = str(s.max_num_batched_tokens)
    if s.quantize is not None:
        env["SM_VLLM_QUANTIZATION"] = s.quantize
    if s.max_loras:
        # --enable-lora / --max-loras (vllm 0.29 engine/arg_utils.py); the DLC turns SM_VLLM_* into them.
        env["SM_VLLM_ENABLE_LORA"] = "true"
        env["SM_VLLM_MAX_LORAS"] = str(s.max_loras)
        env["VLLM_ALLOW_RUNTIME_LORA_UPDATING"] = "true"
    if s.runner is not None:
        env["SM_VLLM_RUNNER"] = s.runner
    if s.tool_call_parser is not None:
        # vLLM answers 400 to `tool_choice: "auto"` unless both are set (OpenAI tools need them).
        env["SM_VLLM_ENABLE_AUTO_TOOL_CHOICE"] = "true"
        env["SM_VLLM_TOOL_CALL_PARSER"] = s.tool_call_parser
    if s.reasoning_parser is not None:
        env["SM_VLLM_REASONING_PARSER"] = s.reasoning_parser
    # One value: the DLC entrypoint passes it as one argument (stacks/config.py, _media_domains).
    env["SM_VLLM_ALLOWED_MEDIA_DOMAINS"] = s.media_domains[0] if s.media_domains else NO_MEDIA_HOST
    # vLLM follows redirects of a media URL unless this is 0 (vllm 0.29 envs.py, default "1"): an allowed host
    # could otherwise redirect the container anywhere.
    env["VLLM_MEDIA_URL_ALLOW_REDIRECTS"] = "0"
    if s.image == "huggingface":
        env["HF_ENABLE_LMCACHE"] = "1" if s.lmcache else "0"
    if s.hf_token_secret is not None:
        # A CloudFormation dynamic reference: resolved at deploy time, never written into the template. But the
        # Model keeps it in its container Environment, which DescribeModel returns in plain text to anyone
        # allowed sagemaker:DescribeModel on it (botocore sagemaker ContainerDefinition.Environment: "Don't
        # include any sensitive data in your environment variables"). Use a fine-grained, read-only token
        # scoped to the gated repositories, or -c model_data=s3://... (no token at all); no role in this
        # stack is granted DescribeModel (tests/synth/test_describe_model.py).
        token = cdk.SecretValue.secrets_manager(s.hf_token_secret).unsafe_unwrap()
        env["HF_TOKEN"] = token
        env["HUGGING_FACE_HUB_TOKEN"] = token
    env.update(s.extra_env)
    return env


# What points vLLM at the Hub: with weights from S3 (/opt/ml/model) none of it may stay.
VLLM_HUB_ENV = frozenset({"SM_VLLM_MODEL", "SM_VLLM_REVISION", "SM_VLLM_TOKENIZER_REVISION", "SM_VLLM_CODE_REVISION"})


def _tensor_parallel(settings: VllmModel, instance_type: str) -> int:
    gpus = gpu_info(instance_type).count
    wanted = settings.num_gpus
    if wanted is not None and not 1 <= wanted <= gpus:
        raise ValueError(f"num_gpus {wanted} is not possible on {instance_type}, which has {gpus} GPU(s)")
    arch = settings.architecture
    if wanted is not None and arch is not None and valid_shards(wanted, arch) != wanted:
        raise ValueError(
            f"num_gpus {wanted}: {settings.hf_model_id} has {arch.attention_heads} attention heads and "
            f"{arch.kv_heads} KV heads, which vLLM cannot split evenly over a tensor-parallel size of {wanted}"
        )
    return wanted if wanted is not None else valid_shards(gpus, arch)


def _check_fit(settings: VllmModel, instance_type: str, num_gpus: int) -> SizingReport | None:
    s = settings
    return check_fit(
        model_id=s.hf_model_id,
        params_b=s.params_b,
        instance_type=instance_type,
        quantize=s.quantize,
        shards=num_gpus,
        architecture=s.architecture,
        max_total_tokens=s.max_total_tokens,
        engine="vllm",
        gpu_memory_utilization=s.gpu_memory_utilization,
    )


def vllm_container(settings: VllmModel, *, kind: str, instance_type: str, accelerators: int) -> ContainerSpec:
    """One more vLLM model as a container spec for an inference component on `accelerators` GPUs of
    `instance_type`: the same pinned image, environment and memory check as VllmEndpoint's own model."""
    image = resolve_image(IMAGE_FRAMEWORKS[settings.image], settings.vllm_version)
    _check_fit(settings, instance_type, accelerators)
    return ContainerSpec(
        served_name=settings.model_name,
        kind=kind,
        engine="vllm",
        image=image,
        environment=vllm_environment(settings, accelerators),
        accelerators=accelerators,
        health_check_timeout=default_health_check(settings.params_b),
        context_length=settings.max_total_tokens,
    )
