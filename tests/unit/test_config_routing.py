"""Context keys of the variant's routing: routing_strategy, prefix_length, prefix_concurrency."""

from __future__ import annotations

import pytest

from constructs.hosting.routing import Routing
from stacks.config import ConfigError, from_context


def test_unset_routing_keeps_each_shape_as_it_was() -> None:
    c = from_context({})
    assert (c.routing_strategy, c.prefix_length, c.prefix_concurrency) == (None, None, None)


def test_prefix_aware_takes_a_length_and_a_threshold() -> None:
    c = from_context({"routing_strategy": "prefix_aware", "prefix_length": "16384", "prefix_concurrency": "1"})
    assert (c.routing_strategy, c.prefix_length, c.prefix_concurrency) == ("prefix_aware", 16384, 1)


@pytest.mark.parametrize(
    ("context", "message"),
    [
        # KV_AWARE is botocore's, not CloudFormation's (constructs/hosting/routing.py).
        ({"routing_strategy": "kv_aware"}, r"'routing_strategy'.*allowed values: least_outstanding_requests, random, "),
        ({"routing_strategy": "prefix_aware", "prefix_length": "1023"}, r"'prefix_length'.*from 1024 to 65536"),
        ({"routing_strategy": "prefix_aware", "prefix_length": "65537"}, r"'prefix_length'"),
        ({"routing_strategy": "prefix_aware", "prefix_concurrency": "0"}, r"'prefix_concurrency'.*1 to 1024"),
        ({"routing_strategy": "prefix_aware", "prefix_concurrency": "1025"}, r"'prefix_concurrency'"),
        ({"prefix_length": "4096"}, r"'prefix_length' has no effect with routing_strategy=None.*prefix_aware"),
        (
            {"routing_strategy": "random", "prefix_concurrency": "4"},
            r"'prefix_concurrency' has no effect with routing_strategy=random.*routing_strategy=prefix_aware",
        ),
    ],
)
def test_bad_routing_fails_naming_the_key(context: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_context(context)


def test_the_construct_refuses_what_cloudformation_would() -> None:
    with pytest.raises(ValueError, match="prefix_length 512 is out of range; allowed 1024 to 65536"):
        Routing("prefix_aware", prefix_length=512)
    with pytest.raises(ValueError, match="concurrency_threshold applies only to the prefix_aware routing strategy"):
        Routing("random", concurrency_threshold=4)
    with pytest.raises(ValueError, match="routing strategy 'kv_aware' is not one of"):
        Routing("kv_aware")
