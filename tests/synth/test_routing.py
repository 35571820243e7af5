"""The variant's RoutingConfig: unchanged when routing_strategy is unset, prefix-aware on either hosting shape."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.xdist_group("synth")

# The same context as tests/synth/test_validators.py "prefix-aware" (cdk-nag, cfn-lint, checkov), so one synth.
PREFIX_AWARE = {
    "model": "qwen2.5-7b-instruct",
    "routing_strategy": "prefix_aware",
    "max_instances": "3",
    "region": "us-east-1",
}
# Twice the scale-to-zero context of tests/synth/test_validators.py "vllm-scale-to-zero", with routing chosen.
ZERO_PREFIX = {
    "model": "qwen2.5-7b-instruct",
    "scale_to_zero": "true",
    "max_instances": "2",
    "routing_strategy": "prefix_aware",
    "prefix_length": "16384",
    "prefix_concurrency": "32",
    "region": "us-east-1",
}


def variant(s: Any) -> dict[str, Any]:
    (only,) = s.one("AWS::SageMaker::EndpointConfig")["ProductionVariants"]
    return dict(only)


def test_unset_routing_leaves_the_always_on_variant_without_a_routing_config(default_synth: Any) -> None:
    assert "RoutingConfig" not in variant(default_synth)


def test_prefix_aware_routing_on_always_on_instances_takes_the_defaults(synth: Any) -> None:
    assert variant(synth(**PREFIX_AWARE))["RoutingConfig"] == {
        "RoutingStrategy": "PREFIX_AWARE",
        "PrefixAwareRoutingConfig": {"PrefixLength": 8192, "ConcurrencyThreshold": 8},
    }


def test_prefix_aware_routing_on_an_inference_component_variant_takes_the_given_values(synth: Any) -> None:
    found = variant(synth(**ZERO_PREFIX))
    assert "ModelName" not in found
    assert found["RoutingConfig"] == {
        "RoutingStrategy": "PREFIX_AWARE",
        "PrefixAwareRoutingConfig": {"PrefixLength": 16384, "ConcurrencyThreshold": 32},
    }


def test_random_routing_has_no_prefix_settings(synth: Any) -> None:
    found = variant(
        synth(model="qwen2.5-7b-instruct", scale_to_zero="true", routing_strategy="random", region="us-east-1")
    )
    assert found["RoutingConfig"] == {"RoutingStrategy": "RANDOM"}
