"""GPU sizing and price estimates for a model (presets.py), all decided at synth time.

Sizing is a pre-flight check, not a simulator: it catches the mistakes that otherwise surface 20 minutes into a
deployment as a CUDA out-of-memory in the endpoint's logs (a 180B model on a 96 GiB instance).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from constructs.facts.gpu_facts import HOST_MEMORY_GIB
from constructs.facts.presets import Architecture, ModelPreset
from constructs.facts.sdk_data import GpuInfo, gpu_info, gpu_table

GIB = 1024**3


# Bytes per weight after TGI's quantization (None: the model's own dtype). GPTQ/AWQ checkpoints are 4-bit.
QUANTIZE_BYTES: dict[str | None, float] = {
    None: 2.0,
    "bitsandbytes": 1.0,
    "bitsandbytes-nf4": 0.5,
    "bitsandbytes-fp4": 0.5,
    "gptq": 0.5,
    "awq": 0.5,
    "eetq": 1.0,
    "fp8": 1.0,
}
QUANTIZE_CHOICES = tuple(q for q in QUANTIZE_BYTES if q is not None)
# vLLM's `--quantization` methods we size for; vLLM's bitsandbytes quantizes in flight to 4 bits. TGI-only
# methods (bitsandbytes-nf4/-fp4, eetq) are not vLLM's names.
VLLM_QUANTIZE_BYTES: dict[str | None, float] = {None: 2.0, "awq": 0.5, "gptq": 0.5, "fp8": 1.0, "bitsandbytes": 0.5}
VLLM_QUANTIZE_CHOICES = tuple(q for q in VLLM_QUANTIZE_BYTES if q is not None)

# CUDA context, NCCL buffers, TGI's warm-up activations and allocator slack, per GPU shard (observed 1-2 GiB).
RUNTIME_RESERVE_GIB_PER_GPU = 1.5

# Approximate on-demand SageMaker real-time inference list prices, us-east-1, USD per instance-hour. Other
# regions cost more; check https://aws.amazon.com/sagemaker/pricing/ before budgeting.
PRICE_TABLE_DATE = "2025-06"
HOURLY_USD: dict[str, float] = {
    "ml.g5.xlarge": 1.41,
    "ml.g5.2xlarge": 1.52,
    "ml.g5.4xlarge": 2.03,
    "ml.g5.8xlarge": 3.06,
    "ml.g5.12xlarge": 7.09,
    "ml.g5.16xlarge": 4.87,
    "ml.g5.24xlarge": 10.18,
    "ml.g5.48xlarge": 20.36,
    "ml.g4dn.xlarge": 0.74,
    "ml.g4dn.12xlarge": 4.89,
    "ml.p3.2xlarge": 3.83,
    "ml.p3.8xlarge": 14.69,
    "ml.p4d.24xlarge": 37.69,
    "ml.p4de.24xlarge": 47.11,
    "ml.p5.48xlarge": 113.07,
}


@dataclass(frozen=True)
class SizingReport:
    model_params_b: float
    bytes_per_param: float
    instance_type: str
    gpus: GpuInfo
    shards: int
    weights_gib: float
    reserve_gib: float
    usable_gib: float
    kv_bytes_per_token: int | None
    kv_cache_tokens: int | None

    @property
    def fits(self) -> bool:
        return self.weights_gib + self.reserve_gib <= self.usable_gib

    def summary(self) -> str:
        line = (
            f"weights {self.weights_gib:.1f} GiB + reserve {self.reserve_gib:.1f} GiB of "
            f"{self.usable_gib:.1f} GiB GPU memory on {self.shards} shard(s)"
        )
        if self.kv_cache_tokens is not None:
            line += f"; KV cache room ~{self.kv_cache_tokens:,} tokens ({self.kv_bytes_per_token:,} B/token)"
        return line


def valid_shards(gpu_count: int, architecture: Architecture | None) -> int:
    """The most GPUs TGI can shard this model over: tensor parallelism needs the heads to divide evenly."""
    if architecture is None:
        return gpu_count
    for n in range(gpu_count, 0, -1):
        if architecture.attention_heads % n == 0 and (architecture.kv_heads % n == 0 or n % architecture.kv_heads == 0):
            return n
    return 1


def size(
    *,
    params_b: float,
    instance_type: str,
    quantize: str | None,
    shards: int | None = None,
    architecture: Architecture | None = None,
    max_total_tokens: int = 2048,
    memory_fraction: float = 1.0,
    quantize_bytes: dict[str | None, float] = QUANTIZE_BYTES,
) -> SizingReport:
    """Weights = params × bytes per param after quantization; they must fit with a reserve in the GPUs used.

    Reserve = RUNTIME_RESERVE_GIB_PER_GPU per shard + one full sequence of KV cache (max_total_tokens ×
    kv_bytes_per_token) when the architecture is known, else 10 % of the weights. KV-cache room in tokens =
    (usable memory − weights − runtime reserve) / kv_bytes_per_token, where kv_bytes_per_token =
    2 (K and V) × layers × kv_heads × head_dim × 2 bytes (bf16). TGI sizes its own batch from what is left.
    `memory_fraction` is the share of GPU memory the engine may use (vLLM's gpu_memory_utilization; TGI: all).
    """
    gpus = gpu_info(instance_type)
    used = shards if shards is not None else valid_shards(gpus.count, architecture)
    per_gpu_gib = gpus.memory_gib / gpus.count
    usable = per_gpu_gib * used * memory_fraction
    bpp = quantize_bytes[quantize]
    weights = params_b * 1e9 * bpp / GIB
    runtime = RUNTIME_RESERVE_GIB_PER_GPU * used
    kv_per_token = architecture.kv_bytes_per_token() if architecture else None
    if kv_per_token:
        reserve = runtime + max_total_tokens * kv_per_token / GIB
        room = max(0.0, usable - weights - runtime)
        kv_tokens: int | None = math.floor(room * GIB / kv_per_token)
    else:
        reserve = runtime + 0.10 * weights
        kv_tokens = None
    return SizingReport(params_b, bpp, instance_type, gpus, used, weights, reserve, usable, kv_per_token, kv_tokens)


def instances_that_fit(
    *,
    params_b: float,
    quantize: str | None,
    architecture: Architecture | None,
    max_total_tokens: int,
    memory_fraction: float = 1.0,
    quantize_bytes: dict[str | None, float] = QUANTIZE_BYTES,
) -> list[str]:
    """GPU instance types from the SDK's table that would hold the model, cheapest known price first."""
    fitting = [
        t
        for t in gpu_table()
        if size(
            params_b=params_b,
            instance_type=t,
            quantize=quantize,
            architecture=architecture,
            max_total_tokens=max_total_tokens,
            memory_fraction=memory_fraction,
            quantize_bytes=quantize_bytes,
        ).fits
    ]
    return sorted(fitting, key=lambda t: (HOURLY_USD.get(t, math.inf), gpu_table()[t].memory_mib, t))


def hourly_cost(instance_type: str, count: int) -> float | None:
    price = HOURLY_USD.get(instance_type)
    return None if price is None else price * count


# SageMaker SDK image configs (sagemaker-core image_uri_config/*.json): Hugging Face's vLLM DLC and AWS's own.
VLLM_IMAGE_FRAMEWORKS = {"huggingface": "huggingface-vllm", "aws": "vllm"}

# vLLM's own default for --gpu-memory-utilization (the share of each GPU it may fill with weights and KV cache).
VLLM_GPU_MEMORY_UTILIZATION = 0.9


def sizing_terms(engine: str, gpu_memory_utilization: float | None) -> tuple[float, dict[str | None, float]]:
    """How much of each GPU the engine may use, and its bytes per weight after quantization."""
    if engine == "vllm":
        fraction = gpu_memory_utilization if gpu_memory_utilization is not None else VLLM_GPU_MEMORY_UTILIZATION
        return fraction, VLLM_QUANTIZE_BYTES
    return 1.0, QUANTIZE_BYTES


# Host memory a default instance type keeps free beside the model's weights (see default_instance).
HOST_HEADROOM_GIB = 8.0


def _weights_gib(params_b: float, quantize: str | None, table: dict[str | None, float]) -> float:
    return params_b * 1e9 * table.get(quantize, 2.0) / GIB


def default_instance(
    preset: ModelPreset,
    *,
    engine: str,
    quantize: str | None,
    max_total_tokens: int,
    gpu_memory_utilization: float | None = None,
) -> str:
    """The preset's instance type, or else the cheapest one the sizing check accepts for this engine."""
    if preset.default_instance_type is not None:
        return preset.default_instance_type
    fraction, table = sizing_terms(engine, gpu_memory_utilization)
    fitting = instances_that_fit(
        params_b=preset.params_b,
        quantize=quantize,
        architecture=preset.architecture,
        max_total_tokens=max_total_tokens,
        memory_fraction=fraction,
        quantize_bytes=table,
    )
    if not fitting:
        raise ValueError(
            f"{preset.hf_model_id} ({preset.params_b:g}B parameters) fits no GPU instance type in the SageMaker "
            "SDK's table; quantize it (e.g. -c quantize=awq with an AWQ checkpoint)"
        )
    # A default should also leave the host room to download and load the weights next to the OS, the container
    # and the engine's process (a rule of thumb, not a measurement): a 7B model (15 GiB) then gets ml.g5.2xlarge
    # (32 GiB of RAM), the type the Falcon-7B preset and its JumpStart spec use, not ml.g5.xlarge (16 GiB). A
    # user's explicit instance_type is only held to the GPU check.
    weights = _weights_gib(preset.params_b, quantize, table)
    roomy = [t for t in fitting if HOST_MEMORY_GIB.get(t, math.inf) >= weights + HOST_HEADROOM_GIB]
    return (roomy or fitting)[0]


def check_fit(
    *,
    model_id: str,
    params_b: float | None,
    instance_type: str,
    quantize: str | None,
    shards: int,
    architecture: Architecture | None,
    max_total_tokens: int,
    engine: str,
    gpu_memory_utilization: float | None = None,
) -> SizingReport | None:
    """The sizing report of a model on `shards` GPUs of `instance_type` for `engine` (None: size unknown); a
    ValueError naming the smallest instance types that fit when it does not."""
    if params_b is None:
        return None
    fraction, table = sizing_terms(engine, gpu_memory_utilization)
    report = size(
        params_b=params_b,
        instance_type=instance_type,
        quantize=quantize,
        shards=shards,
        architecture=architecture,
        max_total_tokens=max_total_tokens,
        memory_fraction=fraction,
        quantize_bytes=table,
    )
    if report.fits:
        return report
    fitting = instances_that_fit(
        params_b=params_b,
        quantize=quantize,
        architecture=architecture,
        max_total_tokens=max_total_tokens,
        memory_fraction=fraction,
        quantize_bytes=table,
    )
    suggestion = ", ".join(fitting[:4]) if fitting else "none in the SageMaker SDK's GPU table"
    weights = (
        f"{params_b:g}B parameters × {report.bytes_per_param:g} bytes = {report.weights_gib:.1f} GiB of weights + "
    )
    if engine == "vllm":
        problem = (
            f"{model_id} does not fit {instance_type} on vLLM: {weights}{report.reserve_gib:.1f} GiB reserve (incl. "
            f"one {max_total_tokens}-token sequence of KV cache), but vLLM may use {fraction:g} of the "
            f"{report.shards} GPU(s) of {instance_type}: {report.usable_gib:.1f} GiB."
        )
        quantize_hint = "; or quantize (e.g. -c quantize=awq with an AWQ checkpoint)"
    else:
        problem = (
            f"{model_id} does not fit {instance_type}: {weights}{report.reserve_gib:.1f} GiB reserve, but "
            f"{report.shards} GPU(s) of {instance_type} hold {report.usable_gib:.1f} GiB."
        )
        quantize_hint = "; or quantize (e.g. -c quantize=gptq with a GPTQ checkpoint)"
    raise ValueError(f"{problem} Smallest instance types that fit: {suggestion}" + ("" if quantize else quantize_hint))
