"""Summary rows about the engine's standing and the wake-up from zero (docs/engines.md, docs/cold-start.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from constructs.engines.jumpstart_endpoint import JumpStartEndpoint
from constructs.engines.tgi_endpoint import TgiEndpoint
from constructs.facts.wake_estimate import estimate

if TYPE_CHECKING:
    from stacks.llm_chat_stack import LlmChatStack

# huggingface/text-generation-inference README, commit "Maintenance mode (#3344)" of 2025-12-11; the GitHub API
# reports the repository archived (read-only), last pushed 2026-03-21.
TGI_LEGACY = (
    "legacy       TGI: in maintenance mode since 2025-12-11, archived 2026-03-21 (Hugging Face); "
    "-c engine=vllm is the maintained path (docs/engines.md)"
)


def engine_notes(stack: LlmChatStack) -> list[str]:
    """The TGI legacy row, and for the scale-to-zero shape the estimated wake-up and how to shorten it."""
    llm = stack.llm
    lines = [TGI_LEGACY] if isinstance(llm, TgiEndpoint) else []
    component = llm.component
    if component is None or llm.hosting.scale_to_zero is None:
        return lines
    alarm = component.wake_alarm
    period, periods = alarm.period, alarm.evaluation_periods
    if period is None or periods is None:
        raise ValueError("the wake alarm has no period: the wake-up estimate needs one")
    private = llm.private
    from_s3 = isinstance(llm, JumpStartEndpoint) or (private is not None and private.model_data is not None)
    sizing = getattr(llm, "sizing", None)
    wake = estimate(
        alarm_period_seconds=int(period),
        alarm_evaluation_periods=int(periods),
        weights_gib=sizing.weights_gib if sizing is not None else None,
        weights_from_s3=from_s3,
    )
    lines.append("wake-up      estimated from AWS's published scale-out figures, not measured (docs/cold-start.md)")
    lines += [f"  {row}" for row in wake.lines()]
    if not from_s3:
        lines.append(
            f"advice       weights from the Hub at every wake-up: make stage-weights MODEL={stack.model_id} "
            "BUCKET=..., then -c model_data=s3://..."
        )
    return lines
