"""The short human summary `make synth` prints: what will run, on what, and what it costs per hour."""

from __future__ import annotations

import aws_cdk as cdk

from constructs.catalog import PRICE_TABLE_DATE, hourly_cost
from constructs.jumpstart_endpoint import JumpStartEndpoint
from constructs.tgi_endpoint import TgiEndpoint
from stacks.cost import cost_lines
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
        lines.append(f"instance     {hosting.instance_count} x {hosting.instance_type}")
        if "SM_NUM_GPUS" in llm.environment:
            lines.append(f"gpus         SM_NUM_GPUS={llm.environment['SM_NUM_GPUS']}")
    cost = hourly_cost(hosting.instance_type, hosting.instance_count)
    lines.append(
        f"cost         ~${cost:,.2f}/hour on demand while {'serving' if hosting.scale_to_zero else 'deployed'} "
        f"(us-east-1 list price, {PRICE_TABLE_DATE})"
        if cost is not None
        else f"cost         no price on record for {hosting.instance_type}"
    )
    lines += cost_lines(hosting)
    if llm.inference_component_name is not None:
        lines.append(
            f"component    {llm.inference_component_name} (scale to zero; the chat API names it on every call)"
        )
    return "\n".join(lines)
