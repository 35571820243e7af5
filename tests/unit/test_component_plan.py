"""How several models share one instance (constructs/facts/component_plan.py) and the context rules around it."""

from __future__ import annotations

import pytest

from constructs.facts.component_plan import gpus_needed, instances_for, plan_components
from constructs.facts.presets import EMBEDDING_PRESETS, PRESETS
from stacks.config import ConfigError, from_context

QWEN, LLAMA, LLAMA70 = (
    PRESETS["qwen2.5-7b-instruct"],
    PRESETS["llama-3.1-8b-instruct"],
    PRESETS["llama-3.3-70b-instruct"],
)
EMBED = EMBEDDING_PRESETS["qwen3-embedding-0.6b"]


def test_a_7b_model_takes_one_a10g_and_a_70b_model_all_four_of_a_g5_12xlarge_cannot_hold_it() -> None:
    assert gpus_needed(QWEN, "ml.g5.12xlarge", max_total_tokens=2048, memory_fraction=0.9) == 1
    # 70.55B x 2 bytes = 131 GiB: more than 4 x 24 GiB x 0.9.
    assert gpus_needed(LLAMA70, "ml.g5.12xlarge", max_total_tokens=2048, memory_fraction=0.9) is None
    assert gpus_needed(LLAMA70, "ml.p4d.24xlarge", max_total_tokens=2048, memory_fraction=0.9) == 4


def test_shares_add_up_within_the_instance_and_a_fifth_model_does_not_fit() -> None:
    shares = plan_components([QWEN, LLAMA, EMBED], "ml.g5.12xlarge", max_total_tokens=2048, memory_fraction=0.9)
    assert [s.accelerators for s in shares] == [1, 1, 1]
    assert shares[0].fraction == 0.25
    five = [QWEN, LLAMA, EMBED, PRESETS["mistral-7b-instruct-v0.3"], EMBEDDING_PRESETS["bge-m3"]]
    with pytest.raises(ValueError, match=r"needs whole GPUs of its own .*Instance types that fit: ml.g5.48xlarge"):
        plan_components(five, "ml.g5.12xlarge", max_total_tokens=2048, memory_fraction=0.9)


def test_the_cheapest_type_that_holds_them_comes_first() -> None:
    assert instances_for([QWEN, LLAMA, EMBED], max_total_tokens=2048, memory_fraction=0.9)[0] == "ml.g5.12xlarge"


def test_adapters_alone_put_the_model_in_a_component_and_the_embedding_model_beside_it() -> None:
    c = from_context({"model": "qwen2.5-7b-instruct", "adapters": "a=s3://my-bucket/p/", "embedding_model": "bge-m3"})
    assert [m.name for m in c.models] == ["qwen2.5-7b-instruct"]
    assert c.embedding_model is not None and c.embedding_model.kind == "embedding"
    assert c.adapters == (("a", "s3://my-bucket/p/"),)


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"models": "qwen2.5-7b-instruct", "vpc_id": "vpc-0123456789abcdef0"}, r"vpc_id.*each component"),
        ({"models": "qwen2.5-7b-instruct,qwen2.5-7b-instruct"}, r"models.*each model at most once"),
        (
            {"models": "qwen2.5-7b-instruct", "adapters": "a=s3://my-bucket/p/,a=s3://my-bucket/q/"},
            r"adapters.*at most once",
        ),
        ({"models": "qwen2.5-7b-instruct", "deployment": "jumpstart"}, r"models"),
    ],
)
def test_bad_contexts_fail_naming_the_key(context: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_context(context)
