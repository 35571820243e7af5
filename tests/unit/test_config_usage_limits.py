"""Context keys of the per-caller limits: defaults (off), parsing, and bad values named with what is allowed."""

from __future__ import annotations

import pytest

from stacks.config import ConfigError, from_context


def test_limits_are_off_by_default() -> None:
    c = from_context({})
    assert (c.daily_token_budget, c.max_streams_per_caller) == (None, None)


def test_limits_are_parsed_from_cli_strings() -> None:
    c = from_context({"daily_token_budget": "250000", "max_streams_per_caller": "3"})
    assert (c.daily_token_budget, c.max_streams_per_caller) == (250_000, 3)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("daily_token_budget", "0", r"'daily_token_budget': '0' is not allowed; expected a whole number from 1 to"),
        ("daily_token_budget", "1e6", r"'daily_token_budget': '1e6' is not allowed; expected a whole number"),
        ("daily_token_budget", "-5", r"'daily_token_budget': '-5' is not allowed; expected a whole number"),
        ("max_streams_per_caller", "0", r"'max_streams_per_caller': '0' .*whole number from 1 to 100"),
        ("max_streams_per_caller", "101", r"'max_streams_per_caller': '101' .*whole number from 1 to 100\b"),
        ("max_streams_per_caller", "two", r"'max_streams_per_caller': 'two' .*whole number"),
    ],
)
def test_bad_limit_names_key_value_and_allowed(key: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_context({key: value})


def test_stream_limit_cannot_exceed_the_reserved_concurrency() -> None:
    with pytest.raises(ConfigError, match=r"'max_streams_per_caller': 30 .*at most reserved_concurrency \(20\)"):
        from_context({"max_streams_per_caller": "30", "reserved_concurrency": "20"})
    assert from_context({"max_streams_per_caller": "20", "reserved_concurrency": "20"}).max_streams_per_caller == 20


def test_request_cap_rate_and_caller_key_are_parsed() -> None:
    c = from_context({"max_requests_per_caller": "4", "iam_requests_per_minute": "120", "caller_key": "session"})
    assert (c.max_requests_per_caller, c.iam_requests_per_minute, c.caller_key) == (4, 120, "session")
    assert from_context({}).caller_key == "role"


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"iam_requests_per_minute": "0"}, r"'iam_requests_per_minute': '0' .*whole number from 1 to 100000"),
        ({"max_requests_per_caller": "101"}, r"'max_requests_per_caller': '101' .*whole number from 1 to 100\b"),
        ({"caller_key": "user"}, r"'caller_key': 'user' .*role, session"),
        ({"api_auth": "api_key", "iam_requests_per_minute": "60"}, r"iam_requests_per_minute.*usage plan"),
        ({"api_auth": "api_key", "caller_key": "session"}, r"caller_key.*role sessions"),
        (
            {"max_requests_per_caller": "30", "reserved_concurrency": "20"},
            r"'max_requests_per_caller': 30 .*at most reserved_concurrency \(20\)",
        ),
    ],
)
def test_bad_request_limits_name_the_key(context: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_context(context)


def test_the_chat_function_reserves_the_stage_burst_by_default() -> None:
    assert from_context({}).reserved_concurrency == 20
    assert from_context({"api_burst_limit": "50"}).reserved_concurrency == 50
    assert from_context({"reserved_concurrency": "7"}).reserved_concurrency == 7
    assert from_context({"reserved_concurrency": "none"}).reserved_concurrency is None


def test_stream_limit_is_checked_against_the_default_reservation_too() -> None:
    with pytest.raises(ConfigError, match=r"'max_streams_per_caller': 21 .*at most reserved_concurrency \(20\)"):
        from_context({"max_streams_per_caller": "21"})
    assert from_context({"max_streams_per_caller": "50", "reserved_concurrency": "none"}).reserved_concurrency is None


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"reserved_concurrency": "0"}, r"'reserved_concurrency': '0' .*number from 1 to 1000, or none"),
        ({"reserved_concurrency": "lots"}, r"'reserved_concurrency': 'lots' .*number from 1 to 1000, or none"),
        (
            {"api_auth": "api_key", "api_key_rate_limit": "11"},
            r"'api_key_rate_limit': 11 .*at most api_rate_limit \(10\)",
        ),
        (
            {"api_auth": "api_key", "api_key_burst_limit": "21"},
            r"'api_key_burst_limit': 21 .*at most api_burst_limit \(20\)",
        ),
        (
            {"api_auth": "api_key", "api_key_rate_limit": "8", "api_key_burst_limit": "4"},
            r"'api_key_burst_limit': 4 .*at least api_key_rate_limit \(8\)",
        ),
        ({"api_key_rate_limit": "5"}, r"api_key_rate_limit.*api_auth"),
    ],
)
def test_bad_concurrency_and_per_key_limits_name_the_key(context: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_context(context)


def test_per_key_throttle_defaults_share_the_stage() -> None:
    from constructs.api.settings import ApiLimits

    assert ApiLimits(auth="api_key").key_throttle == (5, 10)
    assert ApiLimits(auth="api_key", api_keys=("a", "b", "c", "d"), rate_limit=100, burst_limit=200).key_throttle == (
        25,
        50,
    )
    assert ApiLimits(auth="api_key", rate_limit=1, burst_limit=1).key_throttle == (1, 1)
    assert ApiLimits(auth="api_key", key_rate_limit=3, key_burst_limit=4).key_throttle == (3, 4)
    with pytest.raises(ValueError, match="per-key throttle 11/s"):
        ApiLimits(auth="api_key", key_rate_limit=11)


def test_responses_store_is_off_by_default_and_validated() -> None:
    from stacks.config import ConfigError, from_context

    assert from_context({}).responses_store is False
    on = from_context({"responses_store": "true", "responses_retention_days": "7"})
    assert (on.responses_store, on.responses_retention_days) == (True, 7)
    with pytest.raises(ConfigError, match="responses_store"):
        from_context({"responses_store": "maybe"})
    with pytest.raises(ConfigError, match="responses_retention_days"):
        from_context({"responses_store": "true", "responses_retention_days": "0"})
    with pytest.raises(ConfigError, match="responses_retention_days"):
        from_context({"responses_retention_days": "7"})  # no effect without the store: refused, not ignored
