from __future__ import annotations

import pytest

from constructs.facts.catalog import instances_that_fit, size, valid_shards
from constructs.facts.presets import PRESETS, Architecture

FALCON_40B = PRESETS["falcon-40b-instruct"]
FALCON_180B = PRESETS["falcon-180b-chat"]


def test_original_guide_pairing_fits_40b_bf16_on_g5_12xlarge() -> None:
    report = size(
        params_b=FALCON_40B.params_b,
        instance_type="ml.g5.12xlarge",
        quantize=None,
        architecture=FALCON_40B.architecture,
    )
    assert report.fits
    assert report.shards == 4
    assert report.weights_gib == pytest.approx(41.84e9 * 2 / 2**30)
    assert report.usable_gib == 96


def test_kv_bytes_per_token_formula() -> None:
    # 2 (K, V) × 60 layers × 8 KV heads × 64 head_dim × 2 bytes
    assert Architecture(layers=60, attention_heads=128, kv_heads=8, head_dim=64).kv_bytes_per_token() == 122_880


def test_kv_cache_room_is_what_is_left_after_weights_and_runtime_reserve() -> None:
    report = size(
        params_b=FALCON_40B.params_b,
        instance_type="ml.g5.12xlarge",
        quantize=None,
        architecture=FALCON_40B.architecture,
    )
    left = (96 - report.weights_gib - 4 * 1.5) * 2**30
    assert report.kv_cache_tokens == int(left // 122_880)


def test_180b_does_not_fit_g5_12xlarge() -> None:
    report = size(
        params_b=FALCON_180B.params_b,
        instance_type="ml.g5.12xlarge",
        quantize=None,
        architecture=FALCON_180B.architecture,
    )
    assert not report.fits


def test_smallest_fitting_instances_for_180b_are_80gb_a100_h100_class() -> None:
    fitting = instances_that_fit(
        params_b=FALCON_180B.params_b, quantize=None, architecture=FALCON_180B.architecture, max_total_tokens=2048
    )
    assert fitting[:2] == ["ml.p4de.24xlarge", "ml.p5.48xlarge"]
    assert "ml.g5.48xlarge" not in fitting


def test_quantization_shrinks_weights() -> None:
    full = size(params_b=40, instance_type="ml.g5.12xlarge", quantize=None)
    nf4 = size(params_b=40, instance_type="ml.g5.12xlarge", quantize="bitsandbytes-nf4")
    assert nf4.weights_gib == pytest.approx(full.weights_gib / 4)


def test_falcon_7b_cannot_be_sharded_over_several_gpus() -> None:
    assert valid_shards(4, PRESETS["falcon-7b-instruct"].architecture) == 1
    assert valid_shards(8, FALCON_180B.architecture) == 8
