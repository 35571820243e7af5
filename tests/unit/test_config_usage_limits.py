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
