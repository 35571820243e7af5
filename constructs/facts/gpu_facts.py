"""GPU facts for current SageMaker instance types that the SageMaker SDK's `instance_gpu_info.json` lacks.

Used only where the SDK's table has no entry (`sdk_data.gpu_table` reads the SDK first). Each row: GPU count and
total GPU memory as AWS lists them, and where that is published. Memory is in MiB like the SDK's table
(GiB × 1024).
"""

from __future__ import annotations

import re
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


@dataclass(frozen=True)
class GpuArchitecture:
    """The GPU of an instance family, its NVIDIA architecture and CUDA compute capability (major, minor)."""

    gpu: str
    architecture: str
    compute_capability: tuple[int, int]


_CUDA_GPUS = "https://developer.nvidia.com/cuda-gpus (CUDA GPU compute capability)"
# GPU per family: EC2 "Accelerated computing" instance specifications
# (https://docs.aws.amazon.com/ec2/latest/instancetypes/ac.html); compute capability per GPU: NVIDIA's _CUDA_GPUS.
# ml.g5n (in the SageMaker SDK's instance_gpu_info.json, not in EC2's list) is left out: its GPU is not published
# there, so the CUDA check below cannot judge it and lets it pass.
GPU_ARCHITECTURE_BY_FAMILY: dict[str, GpuArchitecture] = {
    "p2": GpuArchitecture("NVIDIA K80", "Kepler", (3, 7)),
    "p3": GpuArchitecture("NVIDIA V100", "Volta", (7, 0)),
    "p3dn": GpuArchitecture("NVIDIA V100", "Volta", (7, 0)),
    "g4dn": GpuArchitecture("NVIDIA T4", "Turing", (7, 5)),
    "g5": GpuArchitecture("NVIDIA A10G", "Ampere", (8, 6)),
    "p4d": GpuArchitecture("NVIDIA A100", "Ampere", (8, 0)),
    "p4de": GpuArchitecture("NVIDIA A100", "Ampere", (8, 0)),
    "g6": GpuArchitecture("NVIDIA L4", "Ada Lovelace", (8, 9)),
    "g6e": GpuArchitecture("NVIDIA L40S", "Ada Lovelace", (8, 9)),
    "p5": GpuArchitecture("NVIDIA H100", "Hopper", (9, 0)),
    "p5e": GpuArchitecture("NVIDIA H200", "Hopper", (9, 0)),
    "p5en": GpuArchitecture("NVIDIA H200", "Hopper", (9, 0)),
}

# The oldest GPU a CUDA major version still supports (compute capability), from NVIDIA's CUDA Toolkit release notes:
# 12.0 removed Kepler (https://docs.nvidia.com/cuda/archive/12.0.0/cuda-toolkit-release-notes/index.html,
# "Kepler architecture support is removed"), leaving Maxwell (5.0) and newer; 13.0 removed Maxwell, Pascal and
# Volta (https://docs.nvidia.com/cuda/archive/13.0.0/cuda-toolkit-release-notes/index.html; NVIDIA technical blog
# "Future CUDA Toolkit support changes", 2025-08: no offline compilation or library support below compute
# capability 7.5), leaving Turing (7.5) and newer. CUDA 11 still built for Kepler's 3.5/3.7.
CUDA_MIN_COMPUTE_CAPABILITY: dict[int, tuple[int, int]] = {11: (3, 5), 12: (5, 0), 13: (7, 5)}
_ARCHITECTURES_FROM = {
    (3, 5): "Kepler (sm35) and newer",
    (5, 0): "Maxwell (sm50) and newer",
    (7, 5): "Turing (sm75) and newer",
}
_CUDA_TAG = re.compile(r"-cu(\d{3})(?:-|$)")


def cuda_major(image: str) -> int | None:
    """The CUDA major version of a DLC image from its tag's `cuXYZ` (e.g. `...-cu130-ubuntu24.04`), else None."""
    found = _CUDA_TAG.search(image.rsplit(":", 1)[-1])
    return int(found.group(1)[:2]) if found else None


def check_cuda_support(image: str, instance_type: str) -> None:
    """Refuse an image whose CUDA dropped the instance's GPU: CUDA 13 images on Volta (ml.p3*) fail to start."""
    major = cuda_major(image)
    family = instance_type.split(".")[1] if instance_type.count(".") == 2 else ""
    arch = GPU_ARCHITECTURE_BY_FAMILY.get(family)
    if major is None or arch is None or major not in CUDA_MIN_COMPUTE_CAPABILITY:
        return
    needed = CUDA_MIN_COMPUTE_CAPABILITY[major]
    if arch.compute_capability < needed:
        cc = "sm" + "".join(map(str, arch.compute_capability))
        supported = ", ".join(
            f"CUDA {m}: {_ARCHITECTURES_FROM[c]}" for m, c in sorted(CUDA_MIN_COMPUTE_CAPABILITY.items())
        )
        newer = sorted({f"ml.{f}" for f, a in GPU_ARCHITECTURE_BY_FAMILY.items() if a.compute_capability >= needed})
        raise ValueError(
            f"instance_type {instance_type}: its {arch.gpu} ({arch.architecture}, {cc}) is not supported by the "
            f"image's CUDA {major} ({image.rsplit('/', 1)[-1]}); images support {supported}. Pick an instance "
            f"type of {', '.join(newer)}, or an image built for an older CUDA"
        )
