"""The short human summary `make synth` prints: what will run, on what, and what it costs per hour."""

from __future__ import annotations

import aws_cdk as cdk

from constructs.catalog import PRICE_TABLE_DATE, hourly_cost
from constructs.jumpstart_endpoint import JumpStartEndpoint
from constructs.sdk_data import SDK_DISTRIBUTION, gpu_source
from constructs.tgi_endpoint import TgiEndpoint
from stacks.llm_chat_stack import LlmChatStack


def summary(stack: LlmChatStack) -> str:
    llm, hosting = stack.llm, stack.llm.hosting
    region = "region-agnostic" if cdk.Token.is_unresolved(stack.region) else stack.region
    lines = [
        f"stack        {stack.stack_name} ({region})",
        f"model        {stack.model_id} [{stack.config.model.name}]",
    ]
    if isinstance(llm, TgiEndpoint):
        lines.append(f"engine       TGI {llm.image.version} ({llm.image.repository}:{llm.image.tag})")
        lines.append(f"instance     {hosting.instance_count} x {hosting.instance_type}")
        lines.append(f"gpus         SM_NUM_GPUS={llm.num_gpus}")
        if llm.sizing is not None:
            lines.append(f"memory       {llm.sizing.summary()}")
    elif isinstance(llm, JumpStartEndpoint):
        lines.append(
            f"engine       SageMaker JumpStart {llm.model_id} {llm.model_version} "
            "(image and artifacts from jumpstart.lock.json)"
        )
        lines.append(f"instance     {hosting.instance_count} x {hosting.instance_type}{_shape_default_note(stack)}")
        if "SM_NUM_GPUS" in llm.environment:
            lines.append(f"gpus         SM_NUM_GPUS={llm.environment['SM_NUM_GPUS']}")
    if not gpu_source(hosting.instance_type).startswith(SDK_DISTRIBUTION):
        lines.append(f"gpu facts    {gpu_source(hosting.instance_type)} (the SageMaker SDK's table lacks this type)")
    cost = hourly_cost(hosting.instance_type, hosting.instance_count)
    lines.append(
        f"cost         ~${cost:,.2f}/hour on demand while deployed (us-east-1 list price, {PRICE_TABLE_DATE})"
        if cost is not None
        else f"cost         unknown: no list price on record for {hosting.instance_type}"
    )
    return "\n".join(lines)


def _shape_default_note(stack: LlmChatStack) -> str:
    """Say so when the shape, not the user, moved the instance type away from the preset's default."""
    chosen, preset_default = stack.llm.hosting.instance_type, stack.config.model.default_instance_type
    if stack.config.instance_type is not None or chosen == preset_default:
        return ""
    return (
        f" (the JumpStart spec's default; the TGI path would use {preset_default}: "
        f"-c instance_type={preset_default} to keep it)"
    )
