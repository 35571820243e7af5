"""The operations keys (deployment_strategy, alarm_email, api_keys) and the update policies they turn into."""

from __future__ import annotations

import re
from typing import Any

import pytest

from constructs.hosting.deployment import EXECUTION_TIMEOUT_RANGE, STRATEGIES, UpdatePolicy, resolve_strategy
from stacks.config import ConfigError, from_context


def test_defaults_are_auto_updates_no_email_and_one_shared_key() -> None:
    config = from_context({})
    assert (config.deployment_strategy, config.alarm_email, config.api_keys) == ("auto", None, ())


@pytest.mark.parametrize(("count", "expected"), [(1, "all_at_once"), (2, "canary"), (20, "canary")])
def test_auto_is_canary_with_more_than_one_instance(count: int, expected: str) -> None:
    assert resolve_strategy("auto", count) == expected


@pytest.mark.parametrize("strategy", ["canary", "linear", "rolling"])
def test_shifting_strategies_need_two_instances(strategy: str) -> None:
    with pytest.raises(
        ConfigError,
        match=rf"context key 'deployment_strategy': '{strategy}' is not allowed; needs instance_count of at least 2 "
        r"\(got 1\).*use all_at_once",
    ):
        from_context({"deployment_strategy": strategy})
    assert from_context({"deployment_strategy": strategy, "instance_count": "2"}).deployment_strategy == strategy


def test_unknown_strategy_names_the_allowed_values() -> None:
    with pytest.raises(
        ConfigError, match=re.escape(f"'blue-green' is not allowed; allowed values: {', '.join(STRATEGIES)}")
    ):
        from_context({"deployment_strategy": "blue-green"})


@pytest.mark.parametrize("email", ["ops@example.com", "first.last+llm@sub.example.co.uk"])
def test_alarm_email_accepts_addresses(email: str) -> None:
    assert from_context({"alarm_email": email}).alarm_email == email


@pytest.mark.parametrize("email", ["ops", "ops@", "@example.com", "ops@example", "a b@example.com", "ops@exa_mple.com"])
def test_alarm_email_rejects_non_addresses(email: str) -> None:
    with pytest.raises(
        ConfigError, match=r"context key 'alarm_email': .* expected an e-mail address like ops@example.com"
    ):
        from_context({"alarm_email": email})


def test_api_keys_are_parsed_in_order() -> None:
    config = from_context({"api_auth": "api_key", "api_keys": "alice, bob-2,ci"})
    assert config.api_keys == ("alice", "bob-2", "ci")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("Alice", r"'Alice' not valid"),
        ("alice,,bob", r"'' not valid"),
        ("bob-", r"'bob-' not valid"),
        ("a--b", r"'a--b' not valid"),
        ("x" * 33, r"not valid"),
        ("alice,alice", r"alice given more than once"),
        ("bob-1,bob1", r"bob-1, bob1 given more than once \(ignoring '-'\)"),
        (",".join(f"c{i}" for i in range(51)), r"expected a comma-separated list of 1-50"),
    ],
)
def test_api_keys_reject_bad_names_with_the_rule(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=rf"context key 'api_keys': .*{message}"):
        from_context({"api_auth": "api_key", "api_keys": value})


def test_api_keys_need_api_key_auth() -> None:
    with pytest.raises(
        ConfigError, match=r"context key 'api_keys': 'alice' is not allowed; named API keys need -c api_auth=api_key"
    ):
        from_context({"api_keys": "alice"})


@pytest.mark.parametrize(
    ("strategy", "count"),
    [(s, n) for s in STRATEGIES if s != "none" for n in range(1, 21) if n > 1 or s in ("auto", "all_at_once")],
)
def test_every_policy_stays_inside_sagemakers_limits(strategy: str, count: int) -> None:
    config: Any = UpdatePolicy(strategy, count, health_check_timeout=3600, model_download_timeout=3600).config(["a"])
    assert config is not None
    blue_green = config.blue_green_update_policy
    rolling = config.rolling_update_policy
    policy = blue_green if blue_green is not None else rolling
    lo, hi = EXECUTION_TIMEOUT_RANGE
    assert lo <= policy.maximum_execution_timeout_in_seconds <= hi
    if rolling is not None:
        # MaximumBatchSize: 5-50 % of the instances (SageMaker API reference, RollingUpdatePolicy)
        assert 0.05 * count <= rolling.maximum_batch_size.value <= 0.5 * count
        return
    routing = blue_green.traffic_routing_configuration
    assert 0 <= routing.wait_interval_in_seconds <= 3600
    assert 0 <= blue_green.termination_wait_in_seconds <= 3600
    if routing.type == "CANARY":
        assert 1 <= routing.canary_size.value <= 0.5 * count
    if routing.type == "LINEAR":
        assert 0.1 * count <= routing.linear_step_size.value <= 0.5 * count


def test_execution_timeout_covers_start_up_and_every_wait() -> None:
    policy: Any = UpdatePolicy("all_at_once", 1, health_check_timeout=600, model_download_timeout=None).config(["a"])
    assert policy is not None and policy.blue_green_update_policy is not None
    bg = policy.blue_green_update_policy
    waits = bg.traffic_routing_configuration.wait_interval_in_seconds + bg.termination_wait_in_seconds
    assert bg.maximum_execution_timeout_in_seconds > waits + 600


def test_none_has_no_deployment_config_and_rollback_needs_one_to_ten_alarms() -> None:
    assert UpdatePolicy("none", 1, health_check_timeout=600).config([]) is None
    with pytest.raises(ValueError, match="1 to 10 alarms, got 11"):
        UpdatePolicy("auto", 1, health_check_timeout=600).config([f"a{i}" for i in range(11)])


def test_blue_green_needs_a_second_fleet_rolling_only_a_batch() -> None:
    assert UpdatePolicy("canary", 4, health_check_timeout=600).extra_instances == 4
    assert UpdatePolicy("rolling", 4, health_check_timeout=600).extra_instances == 1
