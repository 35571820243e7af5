"""The `make synth` summary for both deployment paths (the CLI test covers the default end to end)."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.summary import summary

pytestmark = pytest.mark.xdist_group("synth")


def test_tgi_summary_names_image_gpus_memory_and_cost(synth: Any) -> None:
    text = summary(synth(model="falcon-7b-instruct", region="eu-west-1").stack)
    assert "stack        LlmChat (eu-west-1)" in text
    assert (
        "engine       TGI 3.3.6 (huggingface-pytorch-tgi-inference:2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04)" in text
    )
    assert "instance     1 x ml.g5.2xlarge" in text
    assert "gpus         SM_NUM_GPUS=1" in text
    assert "memory       weights 13.4 GiB" in text
    assert "cost         ~$1.52/hour" in text


def test_jumpstart_summary_names_the_locked_version(synth: Any) -> None:
    text = summary(synth(deployment="jumpstart", region="us-east-1").stack)
    assert "engine       SageMaker JumpStart huggingface-llm-falcon-40b-instruct-bf16 2.3.22" in text
    assert "instance     1 x ml.g5.48xlarge" in text
    assert "gpus         SM_NUM_GPUS=8" in text
    assert "cost         ~$20.36/hour" in text


def test_the_summary_names_the_pinned_hub_commit(default_synth: Any) -> None:
    assert "revision     ecb78d97ac356d098e79f0db222c9ce7c5d9ee5f (pinned Hub commit)" in summary(default_synth.stack)
