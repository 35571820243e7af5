"""Caller resolution from the request context LWA forwards, and the usage settings read from the environment."""

from __future__ import annotations

import json

import pytest
from chatapi.caller import resolve_caller
from chatapi.settings import SettingsError
from chatapi.usage import load_usage_settings
from usage_harness import context_header


def headers(**kwargs: str) -> dict[bytes, bytes]:
    return {k.encode(): v.encode() for k, v in context_header(**kwargs).items()}


def raw(value: str) -> dict[bytes, bytes]:
    return {b"x-amzn-request-context": value.encode()}


def test_iam_mode_names_the_user_arn() -> None:
    arn = "arn:aws:iam::123456789012:user/alice"
    assert resolve_caller(headers(user_arn=arn), "iam") == arn


def test_iam_mode_drops_an_assumed_roles_session_name() -> None:
    arn = "arn:aws:sts::123456789012:assumed-role/Chatters/i-0abc123"
    assert resolve_caller(headers(user_arn=arn), "iam") == "arn:aws:sts::123456789012:assumed-role/Chatters"


def test_caller_key_session_keeps_the_session_name() -> None:
    arn = "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Chat_0123/alice@example.com"
    assert resolve_caller(headers(user_arn=arn), "iam", keep_session=True) == arn
    assert load_usage_settings({"CALLER_KEY": "session"}).caller_key == "session"
    with pytest.raises(SettingsError, match=r"CALLER_KEY='user' is not supported"):
        load_usage_settings({"CALLER_KEY": "user"})


def test_iam_mode_in_another_partition() -> None:
    arn = "arn:aws-cn:iam::123456789012:user/alice"
    assert resolve_caller(headers(user_arn=arn), "iam") == arn


def test_api_key_mode_names_the_key_id_never_the_key() -> None:
    assert resolve_caller(headers(api_key_id="a1b2c3d4e5"), "api_key") == "a1b2c3d4e5"


def test_without_a_mode_every_caller_is_local_whatever_the_headers_say() -> None:
    assert resolve_caller(headers(user_arn="arn:aws:iam::123456789012:user/alice"), None) == "local"
    assert resolve_caller({}, None) == "local"


@pytest.mark.parametrize(
    "header",
    [
        "not json",
        "[]",
        json.dumps({"identity": "alice"}),
        json.dumps({"identity": {"userArn": None}}),
        json.dumps({"identity": {"userArn": "alice"}}),
        json.dumps({"identity": {"userArn": "arn:aws:iam::123456789012:user/a b"}}),
        json.dumps({"identity": {"userArn": "arn:aws:s3:::bucket"}}),
        json.dumps({"identity": {"apiKeyId": "a1b2c3d4e5"}}),
        "{" * 5000,
    ],
)
def test_iam_mode_with_a_missing_or_malformed_identity_is_unknown(header: str) -> None:
    assert resolve_caller(raw(header), "iam") == "unknown"


@pytest.mark.parametrize(
    "identity", [{"apiKeyId": None}, {"apiKeyId": ""}, {"apiKeyId": "has space"}, {"apiKeyId": 12345}, {}]
)
def test_api_key_mode_without_a_usable_key_id_is_unknown(identity: dict[str, object]) -> None:
    assert resolve_caller(raw(json.dumps({"identity": identity})), "api_key") == "unknown"


def test_no_header_in_a_mode_is_unknown() -> None:
    assert resolve_caller({}, "iam") == "unknown"


def test_usage_settings_default_to_metering_only() -> None:
    s = load_usage_settings({})
    assert (s.caller_identity, s.metrics_namespace, s.table_name) == (None, "LlmChat", None)
    assert (s.daily_token_budget, s.max_streams_per_caller) == (None, None)


def test_usage_settings_read_every_variable() -> None:
    s = load_usage_settings(
        {
            "CALLER_IDENTITY": "api_key",
            "METRICS_NAMESPACE": "LlmChat/Prod",
            "USAGE_TABLE_NAME": "t",
            "DAILY_TOKEN_BUDGET": "1000",
            "MAX_STREAMS_PER_CALLER": "2",
        }
    )
    assert s == type(s)("api_key", "LlmChat/Prod", "t", 1000, 2)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CALLER_IDENTITY": "cognito"}, r"CALLER_IDENTITY='cognito' is not supported; expected one of"),
        ({"METRICS_NAMESPACE": "AWS/Lambda"}, r"METRICS_NAMESPACE='AWS/Lambda' is not a valid custom"),
        ({"METRICS_NAMESPACE": "has space"}, r"METRICS_NAMESPACE='has space' is not a valid custom"),
        ({"USAGE_TABLE_NAME": "t", "DAILY_TOKEN_BUDGET": "0"}, r"DAILY_TOKEN_BUDGET='0' is not allowed"),
        ({"USAGE_TABLE_NAME": "t", "MAX_STREAMS_PER_CALLER": "x"}, r"MAX_STREAMS_PER_CALLER='x' is not allowed"),
        ({"MAX_STREAMS_PER_CALLER": "2"}, r"need USAGE_TABLE_NAME"),
    ],
)
def test_bad_usage_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_usage_settings(env)
