"""The short human summary `make synth` prints: what will run, on what, and what it costs per hour."""

from __future__ import annotations

import aws_cdk as cdk

from constructs.engines.jumpstart_endpoint import JumpStartEndpoint
from constructs.engines.tgi_endpoint import TgiEndpoint
from constructs.engines.vllm_endpoint import VllmEndpoint
from constructs.facts.catalog import PRICE_TABLE_DATE, hourly_cost
from constructs.facts.sdk_data import SDK_DISTRIBUTION, gpu_source
from stacks.cost import cost_lines, fixed_cost
from stacks.engine_notes import engine_notes
from stacks.guardrail_config import guardrail_summary
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
        if llm.settings.revision is not None:
            lines.append(f"revision     {llm.settings.revision} (pinned Hub commit)")
        if llm.sizing is not None:
            lines.append(f"memory       {llm.sizing.summary()}")
    elif isinstance(llm, VllmEndpoint):
        lines.append(f"engine       vLLM {llm.image.version} ({llm.image.repository}:{llm.image.tag})")
        lines.append(f"instance     {hosting.instance_count} x {hosting.instance_type}")
        lines.append(f"gpus         SM_VLLM_TENSOR_PARALLEL_SIZE={llm.num_gpus}")
        if hosting.inference_ami_version is not None:
            lines.append(f"host AMI     {hosting.inference_ami_version}")
        if llm.settings.revision is not None:
            lines.append(f"revision     {llm.settings.revision} (models.lock.json)")
        if llm.sizing is not None:
            lines.append(
                f"memory       {llm.sizing.summary()} (gpu_memory_utilization {llm.settings.gpu_memory_utilization:g})"
            )
    elif isinstance(llm, JumpStartEndpoint):
        lines.append(
            f"engine       SageMaker JumpStart {llm.model_id} {llm.model_version} "
            "(image and artifacts from jumpstart.lock.json)"
        )
        lines.append(f"instance     {hosting.instance_count} x {hosting.instance_type}{_shape_default_note(stack)}")
        if "SM_NUM_GPUS" in llm.environment:
            lines.append(f"gpus         SM_NUM_GPUS={llm.environment['SM_NUM_GPUS']}")
    lines.extend(_private_lines(stack))
    if not gpu_source(hosting.instance_type).startswith(SDK_DISTRIBUTION):
        lines.append(f"gpu facts    {gpu_source(hosting.instance_type)} (the SageMaker SDK's table lacks this type)")
    cost = hourly_cost(hosting.instance_type, hosting.instance_count)
    lines.append(
        f"cost         ~${cost:,.2f}/hour on demand while {'serving' if hosting.scale_to_zero else 'deployed'} "
        f"(us-east-1 list price, {PRICE_TABLE_DATE})"
        if cost is not None
        else f"cost         unknown: no list price on record for {hosting.instance_type}"
    )
    lines += cost_lines(hosting, fixed_cost(stack))
    lines += guardrail_summary(stack.config.guardrail)
    if stack.components is not None:
        lines += _component_lines(stack)
    elif llm.inference_component_name is not None:
        lines.append(
            f"component    {llm.inference_component_name} (scale to zero; the chat API names it on every call)"
        )
    lines += engine_notes(stack)
    lines.append(_lambda_line(stack))
    return "\n".join(lines)


def _lambda_line(stack: LlmChatStack) -> str:
    """Whether the chat Lambda's zip carries bytecode (compiled here) or makes each cold start compile it."""
    compiler = stack.chat.bytecode
    if compiler is not None:
        return f"lambda       bytecode compiled with Python {compiler.version} (cold starts skip compiling)"
    return (
        "lambda       no bytecode: this machine has no python3.13 to compile it, so each cold start compiles "
        "what it imports (docs/benchmarks.md)"
    )


def _component_lines(stack: LlmChatStack) -> list[str]:
    """One line per inference component: what it serves, its share of the instance's GPUs and that share's cost."""
    assert stack.components is not None
    hosting = stack.llm.hosting
    price = hourly_cost(hosting.instance_type, 1)
    when = "while its copy runs" if hosting.scale_to_zero else "always on"
    lines = []
    for served, component, share in stack.components.lines:
        if share is None:
            what = "adapter: shares its base's GPUs, no extra cost"
        else:
            cost = (
                f"~${price * share.fraction:,.2f} of the instance's ${price:,.2f}/hour {when}"
                if price is not None
                else "cost unknown"
            )
            what = (
                f"{share.model.kind}, {share.accelerators}/{share.instance_gpus} GPU(s) = {share.fraction:.0%}: {cost}"
            )
        lines.append(f"component    {served} -> {component} ({what})")
    return lines


def _private_lines(stack: LlmChatStack) -> list[str]:
    """Where the weights come from, and the private-deployment options that are on."""
    llm, private = stack.llm, stack.llm.private
    if isinstance(llm, JumpStartEndpoint):
        weights = "JumpStart artifacts in S3 (network isolation on)"
    elif private is not None and private.model_data is not None:
        weights = f"{private.model_data.uri} (S3, network isolation on, no Hub access)"
    else:
        weights = f"Hugging Face Hub download of {stack.model_id} at every start"
    lines = [f"weights      {weights}"]
    hosted = llm.private_hosting
    if hosted is None:
        return lines
    if hosted.network is not None:
        where = "new isolated VPC (2 AZs, no NAT)" if hosted.network.settings.create else hosted.network.settings.vpc_id
        lines.append(f"network      {where}")
    if hosted.key is not None:
        volume = "volume + " if hosted.volume_key_arn is not None else "(NVMe volume: hardware-encrypted) "
        lines.append(f"kms key      {volume}{'data capture' if hosted.capture else ''}".rstrip())
    if hosted.capture is not None:
        lines.append(f"capture      prompts and answers kept {hosted.capture.days} days (SSE-KMS bucket)")
    return lines


def _shape_default_note(stack: LlmChatStack) -> str:
    """Say so when the shape, not the user, moved the instance type away from the preset's default."""
    chosen, preset_default = stack.llm.hosting.instance_type, stack.config.model.default_instance_type
    if stack.config.instance_type is not None or chosen == preset_default:
        return ""
    return (
        f" (the JumpStart spec's default; the TGI path would use {preset_default}: "
        f"-c instance_type={preset_default} to keep it)"
    )
