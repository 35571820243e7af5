"""The ``guardrail`` context key (-c guardrail=create | <id or ARN>:<version>): its parser and region rule for the
schema (stacks/options.py) and its summary lines (stacks/summary.py); the construct is constructs/api/guardrail.py,
the proxy's side lambda/chat_proxy/chatapi/guardrails.py."""

from __future__ import annotations

from typing import Any

from constructs.api.guardrail import CONTENT_FILTER_USD_PER_1000_UNITS, GUARDRAIL_REGIONS, GuardrailChoice
from stacks.option_types import ConfigError, fail, says


@says("`create`, or `<id or ARN>:<version>` (version 1-99999999 or `DRAFT`)")
def guardrail(key: str, value: Any) -> GuardrailChoice:
    try:
        return GuardrailChoice.parse(value if isinstance(value, str) else "")
    except ValueError as err:
        raise fail(key, value, str(err)) from None


def check_guardrail(choice: GuardrailChoice | None, region: str | None) -> None:
    """A pinned region must have Bedrock Guardrails, and an existing guardrail's ARN must be in that region
    (ApplyGuardrail is called in the stack's region)."""
    if choice is None:
        return
    if region is not None and region not in GUARDRAIL_REGIONS:
        raise ConfigError(
            f"context key 'guardrail' needs Amazon Bedrock Guardrails, which region {region!r} does not have; "
            f"regions with them: {', '.join(GUARDRAIL_REGIONS)}"
        )
    if choice.region is not None and choice.region not in GUARDRAIL_REGIONS:
        raise ConfigError(f"context key 'guardrail': {choice.region!r} has no Amazon Bedrock Guardrails")
    if choice.region is not None and region is not None and choice.region != region:
        raise ConfigError(
            f"context key 'guardrail': the guardrail is in {choice.region}, the stack in {region}; the chat API "
            "applies a guardrail of its own region"
        )


def guardrail_summary(choice: GuardrailChoice | None) -> list[str]:
    """The synth summary's lines (stacks/summary.py): which guardrail, and what its checks cost."""
    if choice is None:
        return []
    price = f"${CONTENT_FILTER_USD_PER_1000_UNITS:.2f} per 1,000 text units (1 unit = up to 1,000 characters)"
    what = "its content filters" if choice.create else "each policy it runs (content filters: this price)"
    return [
        f"guardrail    {choice.describe()}: every prompt, and every answer in 1,000-character windows",
        f"             + {price} for {what}; Amazon Bedrock pricing, us-east-1",
    ]
