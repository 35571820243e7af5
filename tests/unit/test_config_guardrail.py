"""The guardrail context key (stacks/guardrail_config.py) and the proxy's GUARDRAIL_ID/GUARDRAIL_VERSION."""

from __future__ import annotations

import pytest
from chatapi.guardrails import GuardrailSettings, load_guardrail_settings
from chatapi.settings import SettingsError

from constructs.api.guardrail import GUARDRAIL_REGIONS, GuardrailChoice
from constructs.facts.regions import LWA_REGIONS
from stacks.config import ConfigError, from_context

ARN = "arn:aws:bedrock:eu-west-1:123456789012:guardrail/abc123def456"


def test_no_guardrail_by_default() -> None:
    assert from_context({}).guardrail is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("create", GuardrailChoice()),
        ("abc123def456:1", GuardrailChoice("abc123def456", "1")),
        ("abc123def456:DRAFT", GuardrailChoice("abc123def456", "DRAFT")),
        (f"{ARN}:12", GuardrailChoice(ARN, "12")),
    ],
)
def test_create_or_an_existing_id_and_version(value: str, expected: GuardrailChoice) -> None:
    assert from_context({"guardrail": value}).guardrail == expected


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("abc123def456", "expected create, or <guardrail id>:<version>"),
        ("ABC123:1", "expected create, or <guardrail id>:<version>"),
        ("abc-123:1", "expected create, or <guardrail id>:<version>"),
        ("abc123:0", "version '0' is not a guardrail version"),
        ("abc123:v1", "version 'v1' is not a guardrail version"),
        ("abc123:123456789", "version '123456789' is not a guardrail version"),
        ("Create", "expected create"),
    ],
)
def test_bad_values_name_the_key_and_what_is_allowed(value: str, why: str) -> None:
    with pytest.raises(ConfigError, match=f"context key 'guardrail': '{value}' is not allowed; {why}"):
        from_context({"guardrail": value})


def test_a_pinned_region_without_bedrock_guardrails_is_refused() -> None:
    without = sorted(set(LWA_REGIONS) - set(GUARDRAIL_REGIONS))
    assert "af-south-1" in without and "me-south-1" in without
    with pytest.raises(ConfigError, match="needs Amazon Bedrock Guardrails, which region 'af-south-1' does not"):
        from_context({"guardrail": "create", "region": "af-south-1"})
    assert from_context({"guardrail": "create", "region": "eu-west-1"}).guardrail == GuardrailChoice()


def test_an_arn_in_another_region_than_the_stack_is_refused() -> None:
    with pytest.raises(ConfigError, match="the guardrail is in eu-west-1, the stack in us-east-1"):
        from_context({"guardrail": f"{ARN}:1", "region": "us-east-1"})


def test_the_proxy_reads_both_variables_or_neither() -> None:
    assert load_guardrail_settings({}) is None
    assert load_guardrail_settings({"GUARDRAIL_ID": "abc1", "GUARDRAIL_VERSION": "2"}) == GuardrailSettings("abc1", "2")
    with pytest.raises(SettingsError, match="set both or neither"):
        load_guardrail_settings({"GUARDRAIL_ID": "abc1"})
    with pytest.raises(SettingsError, match="is not a guardrail version"):
        load_guardrail_settings({"GUARDRAIL_ID": "abc1", "GUARDRAIL_VERSION": "latest"})
    with pytest.raises(SettingsError, match="is not a guardrail id or ARN"):
        load_guardrail_settings({"GUARDRAIL_ID": "Abc 1", "GUARDRAIL_VERSION": "1"})
