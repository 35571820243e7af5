"""Shorter cold starts in the scale-to-zero shape, and the summary's wake-up estimate and engine standing.

The contexts are the ones tests/synth/test_scaling.py and test_validators.py synthesize (one cached synth each).
"""

from __future__ import annotations

from typing import Any

import pytest

from stacks.summary import summary

pytestmark = pytest.mark.xdist_group("synth")

ZERO_VLLM = {"model": "qwen2.5-7b-instruct", "scale_to_zero": "true", "region": "us-east-1"}
ZERO_PRIVATE = {
    "model": "falcon-7b-instruct",
    "scale_to_zero": "true",
    "model_data": "s3://my-weights/models/falcon-7b/",
    "vpc": "create",
    "data_capture": "true",
    "region": "us-east-1",
}
VLLM = {"model": "qwen2.5-7b-instruct"}


def rows(text: str, label: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(label)]


@pytest.mark.parametrize("context", [ZERO_VLLM, ZERO_PRIVATE], ids=["hub-weights", "s3-weights"])
def test_the_inference_component_caches_its_image_and_artifacts(synth: Any, context: dict[str, str]) -> None:
    spec = synth(**context).one("AWS::SageMaker::InferenceComponent")["Specification"]
    assert spec["DataCacheConfig"] == {"EnableCaching": True}


def test_wake_up_from_hub_weights_is_a_lower_bound_and_recommends_staging_them(synth: Any) -> None:
    s = synth(**ZERO_VLLM)
    text = summary(s.stack)
    assert rows(text, "wake-up") and "docs/cold-start.md" in rows(text, "wake-up")[0]
    (alarm,) = [
        a["Properties"] for k, a in s.of_type("AWS::CloudWatch::Alarm").items() if k.startswith("LlmComponentWakeAlarm")
    ]
    assert rows(text, "  alarm")[0].split()[1:3] == [str(alarm["Period"] * alarm["EvaluationPeriods"]), "s"]
    assert rows(text, "  weights")[0].split()[1] == "?"
    assert rows(text, "  total")[0].split()[1] == ">"
    (advice,) = rows(text, "advice")
    assert "make stage-weights MODEL=Qwen/Qwen2.5-7B-Instruct" in advice and "-c model_data=s3://" in advice


def test_wake_up_from_s3_weights_is_a_full_estimate_without_the_staging_advice(synth: Any) -> None:
    s = synth(**ZERO_PRIVATE)
    text = summary(s.stack)
    weights = s.stack.llm.sizing.weights_gib
    (row,) = rows(text, "  weights")
    assert f"S3 download of {weights:.1f} GiB" in row
    assert rows(text, "  total")[0].split()[1].startswith("~")
    assert rows(text, "advice") == []


def test_always_on_shapes_print_no_wake_up(default_synth: Any, synth: Any) -> None:
    for s in (default_synth, synth(**VLLM)):
        assert rows(summary(s.stack), "wake-up") == []


def test_tgi_is_marked_legacy_with_its_dates_and_vllm_is_not(default_synth: Any, synth: Any) -> None:
    (legacy,) = rows(summary(default_synth.stack), "legacy")
    assert "maintenance mode since 2025-12-11" in legacy and "archived 2026-03-21" in legacy
    assert "-c engine=vllm" in legacy
    assert rows(summary(synth(**VLLM).stack), "legacy") == []


def test_jumpstart_weights_come_from_s3_but_their_size_is_not_guessed(synth: Any) -> None:
    text = summary(synth(deployment="jumpstart", region="us-east-1", scale_to_zero="true").stack)
    (row,) = rows(text, "  weights")
    assert row.split()[1] == "?" and "model size unknown" in row
    assert rows(text, "advice") == []
