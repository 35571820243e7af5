"""GPU facts for current SageMaker instance types that the SageMaker SDK's `instance_gpu_info.json` lacks.

Used only where the SDK's table has no entry (`sdk_data.gpu_table` reads the SDK first). Each row: GPU count and
total GPU memory as AWS lists them, and where that is published. Memory is in MiB like the SDK's table
(GiB × 1024).
"""

from __future__ import annotations

from dataclasses import dataclass

_EC2_SPECS = "https://docs.aws.amazon.com/ec2/latest/instancetypes/ac.html (Accelerated computing: GPU specifications)"
_BATCH_GPU = "https://docs.aws.amazon.com/batch/latest/userguide/gpu-jobs.html (GPUs, GPU memory per instance type)"
_G6E = "https://aws.amazon.com/ec2/instance-types/g6e/ (NVIDIA L40S, 48 GiB each)"
_P5 = "https://aws.amazon.com/ec2/instance-types/p5/ (P5e/P5en: 8 × NVIDIA H200, 1128 GiB in total)"


@dataclass(frozen=True)
class GpuFact:
    count: int
    memory_mib: int
    gpu: str
    source: str


# Both families: one GPU up to 16xlarge, four in 12xlarge and 24xlarge, eight in 48xlarge.
_SIZES = {"xlarge": 1, "2xlarge": 1, "4xlarge": 1, "8xlarge": 1, "16xlarge": 1}
_SIZES |= {"12xlarge": 4, "24xlarge": 4, "48xlarge": 8}


def _rows(family: str, gpu: str, per_gpu_gib: int, sizes: dict[str, int], source: str) -> dict[str, GpuFact]:
    return {f"ml.{family}.{size}": GpuFact(n, n * per_gpu_gib * 1024, gpu, source) for size, n in sizes.items()}


SUPPLEMENTARY_GPU_FACTS: dict[str, GpuFact] = {
    "ml.g5.xlarge": GpuFact(1, 24 * 1024, "NVIDIA A10G", _BATCH_GPU),
    **_rows(
        "g6",
        "NVIDIA L4",
        24,
        _SIZES,
        _BATCH_GPU,
    ),
    **_rows(
        "g6e",
        "NVIDIA L40S",
        48,
        _SIZES,
        _G6E,
    ),
    "ml.p5e.48xlarge": GpuFact(8, 1128 * 1024, "NVIDIA H200", _P5),
    "ml.p5en.48xlarge": GpuFact(8, 1128 * 1024, "NVIDIA H200", _P5),
}


# Host memory (GiB) of the GPU instance types (EC2 instance type specifications of the same families). Used for the
# inference component's memory ask and to keep default instance types from starving the host (catalog).
HOST_MEMORY_GIB = {
    **{f"ml.g4dn.{s}": m for s, m in (("xlarge", 16), ("2xlarge", 32), ("4xlarge", 64), ("8xlarge", 128))},
    **{f"ml.g4dn.{s}": m for s, m in (("12xlarge", 192), ("16xlarge", 256))},
    **{f"ml.{f}.{s}": m for f in ("g5", "g6") for s, m in (("xlarge", 16), ("2xlarge", 32), ("4xlarge", 64))},
    **{f"ml.{f}.{s}": m for f in ("g5", "g6") for s, m in (("8xlarge", 128), ("12xlarge", 192), ("16xlarge", 256))},
    **{f"ml.{f}.{s}": m for f in ("g5", "g6") for s, m in (("24xlarge", 384), ("48xlarge", 768))},
    **{f"ml.g6e.{s}": m for s, m in (("xlarge", 32), ("2xlarge", 64), ("4xlarge", 128), ("8xlarge", 256))},
    **{f"ml.g6e.{s}": m for s, m in (("12xlarge", 384), ("16xlarge", 512), ("24xlarge", 768), ("48xlarge", 1536))},
    "ml.p3.2xlarge": 61,
    "ml.p3.8xlarge": 244,
    "ml.p3.16xlarge": 488,
    "ml.p3dn.24xlarge": 768,
    "ml.p4d.24xlarge": 1152,
    "ml.p4de.24xlarge": 1152,
    "ml.p5.48xlarge": 2048,
    "ml.p5e.48xlarge": 2048,
    "ml.p5en.48xlarge": 2048,
}
