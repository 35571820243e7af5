"""Context keys of -c pipeline=true: parsed, cross-checked, with messages that name the key and what is allowed."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.config import ConfigError, from_context

CONNECTION = "arn:aws:codeconnections:eu-west-1:123456789012:connection/0123abcd-0123-4567-89ab-0123456789ab"
GOOD = {
    "pipeline": "true",
    "pipeline_connection_arn": CONNECTION,
    "pipeline_repo": "acme/llm-chat",
    "account": "123456789012",
    "region": "eu-west-1",
}


def test_defaults_have_no_pipeline() -> None:
    config = from_context({})
    assert (config.pipeline, config.pipeline_branch, config.pipeline_repo) == (False, "main", None)


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"pipeline_branch": "release/2026-11"},
        {"pipeline_repo": "group/subgroup/llm-chat"},
        {"pipeline_connection_arn": CONNECTION.replace("codeconnections", "codestar-connections")},
        {"pipeline": True},
    ],
)
def test_good_pipeline_contexts(extra: dict[str, Any]) -> None:
    config = from_context({**GOOD, **extra})
    assert config.pipeline is True
    assert config.pipeline_repo == extra.get("pipeline_repo", "acme/llm-chat")
    assert config.pipeline_branch == extra.get("pipeline_branch", "main")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("pipeline", "yes", "context key 'pipeline': 'yes' is not allowed; expected true or false"),
        ("pipeline_connection_arn", "arn:aws:s3:::bucket", "expected a CodeConnections connection ARN"),
        ("pipeline_connection_arn", CONNECTION[:-1], "expected a CodeConnections connection ARN"),
        ("pipeline_repo", "llm-chat", "context key 'pipeline_repo': 'llm-chat' is not allowed; expected a repository"),
        ("pipeline_repo", "acme/llm chat", "expected a repository as owner/name"),
        ("pipeline_branch", "feature/../main", "expected a git branch name"),
        ("pipeline_branch", "-rf", "expected a git branch name"),
        ("pipeline_branch", "main.lock", "expected a git branch name"),
        ("pipeline_branch", "a b", "expected a git branch name"),
    ],
)
def test_bad_values_name_the_key(key: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        from_context({**GOOD, key: value})


@pytest.mark.parametrize("missing", ["pipeline_connection_arn", "pipeline_repo", "account", "region"])
def test_pipeline_requires_source_account_and_region(missing: str) -> None:
    context = {k: v for k, v in GOOD.items() if k != missing}
    with pytest.raises(ConfigError, match=f"context key 'pipeline': true requires '{missing}'"):
        from_context(context)


def test_pipeline_keys_without_pipeline_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"'pipeline_branch', 'pipeline_repo'.* need -c pipeline=true"):
        from_context({"pipeline_repo": "acme/x", "pipeline_branch": "main"})


def test_self_mutation_is_off_unless_asked_for() -> None:
    assert from_context(GOOD).pipeline_self_mutation is False
    assert from_context({**GOOD, "pipeline_self_mutation": "true"}).pipeline_self_mutation is True


def test_self_mutation_names_the_key_and_the_allowed_values() -> None:
    with pytest.raises(ConfigError, match=r"'pipeline_self_mutation'.*'yes'.*true or false"):
        from_context({**GOOD, "pipeline_self_mutation": "yes"})
    with pytest.raises(ConfigError, match=r"'pipeline_self_mutation'.* need -c pipeline=true"):
        from_context({"pipeline_self_mutation": "true"})
