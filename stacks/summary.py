"""The short human summary `make synth` prints: what will run, on what, and what it costs per hour."""

from __future__ import annotations

from constructs.catalog import PRICE_TABLE_DATE, hourly_cost
from constructs.jumpstart_endpoint import JumpStartEndpoint
from stacks.llm_chat_stack import LlmChatStack


def summary(stack: LlmChatStack) -> str:
    c = stack.config
    llm = stack.llm
    hosting = llm.hosting
    lines = [
        f"stack        {stack.stack_name} ({stack.region if not _unresolved(stack.region) else 'region-agnostic'})",
        f"model        {stack.model_id} [{c.model.name}]",
        f"engine       {_engine(stack)}",
        f"instance     {hosting.instance_count} x {hosting.instance_type}",
    ]
    gpus = llm.environment.get("SM_NUM_GPUS") if isinstance(llm, JumpStartEndpoint) else getattr(llm, "num_gpus", None)
    sizing = getattr(llm, "sizing", None)
    if gpus is not None:
        lines.append(f"gpus         SM_NUM_GPUS={gpus}")
    if sizing is not None:
        lines.append(f"memory       {sizing.summary()}")
    cost = hourly_cost(hosting.instance_type, hosting.instance_count)
    lines.append(
        f"cost         ~${cost:,.2f}/hour on demand while deployed (us-east-1 list price, {PRICE_TABLE_DATE})"
        if cost is not None
        else f"cost         no price on record for {hosting.instance_type}"
    )
    return "\n".join(lines)


def _engine(stack: LlmChatStack) -> str:
    image = getattr(stack.llm, "image", None)
    if image is not None:
        return f"TGI {image.version} ({image.repository}:{image.tag})"
    llm = stack.llm
    assert isinstance(llm, JumpStartEndpoint)
    return f"SageMaker JumpStart {llm.model_id} {llm.model_version} (image and artifacts from jumpstart.lock.json)"


def _unresolved(value: str) -> bool:
    return value.startswith("${Token")
