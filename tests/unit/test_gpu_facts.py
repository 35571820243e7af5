"""Which GPUs each image's CUDA still supports (NVIDIA CUDA 12.0 / 13.0 release notes) per instance family."""

from __future__ import annotations

import pytest

from constructs.facts.gpu_facts import GPU_ARCHITECTURE_BY_FAMILY, check_cuda_support, cuda_major
from constructs.facts.sdk_data import gpu_table

VLLM_CU130 = "0.29.0-transformers5.15.0-gpu-py312-cu130-ubuntu24.04-v1.0"
TGI_CU124 = "2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04"


def test_every_gpu_family_the_sdk_knows_has_an_architecture_except_the_unpublished_g5n() -> None:
    families = {t.split(".")[1] for t in gpu_table()}
    assert families - set(GPU_ARCHITECTURE_BY_FAMILY) == {"g5n"}


def test_cuda_major_comes_from_the_images_tag_or_uri() -> None:
    assert cuda_major(VLLM_CU130) == 13
    assert (
        cuda_major(f"763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-tgi-inference:{TGI_CU124}") == 12
    )
    assert cuda_major("latest") is None


@pytest.mark.parametrize("instance_type", ["ml.p3.2xlarge", "ml.p3.8xlarge", "ml.p3dn.24xlarge"])
def test_cuda_13_images_refuse_volta_and_name_what_each_cuda_supports(instance_type: str) -> None:
    with pytest.raises(ValueError, match=rf"instance_type {instance_type}: its NVIDIA V100 \(Volta, sm70\)") as err:
        check_cuda_support(VLLM_CU130, instance_type)
    message = str(err.value)
    assert "CUDA 13: Turing (sm75) and newer" in message and "CUDA 12: Maxwell (sm50) and newer" in message
    assert "ml.g5" in message and "ml.p3" not in message.split("Pick")[1]


def test_cuda_12_images_refuse_kepler_but_run_on_volta() -> None:
    with pytest.raises(ValueError, match=r"NVIDIA K80 \(Kepler, sm37\)"):
        check_cuda_support(TGI_CU124, "ml.p2.8xlarge")
    check_cuda_support(TGI_CU124, "ml.p3.8xlarge")


@pytest.mark.parametrize("family", ["g4dn", "g5", "g6", "g6e", "p4d", "p4de", "p5", "p5e", "p5en"])
def test_cuda_13_images_run_on_turing_and_newer(family: str) -> None:
    check_cuda_support(VLLM_CU130, f"ml.{family}.12xlarge")
