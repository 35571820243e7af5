"""How several models share one instance: each inference component gets whole GPUs of its own, the fewest its
weights and one sequence of KV cache fit in (catalog.size), and together they must fit the instance's GPUs
(the SageMaker SDK's GPU table)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from constructs.facts.catalog import HOURLY_USD, VLLM_QUANTIZE_BYTES, size, valid_shards
from constructs.facts.presets import ModelPreset
from constructs.facts.sdk_data import gpu_info, gpu_table


@dataclass(frozen=True)
class Share:
    """One model's part of the instance: its GPUs (NumberOfAcceleratorDevicesRequired) out of the instance's."""

    model: ModelPreset
    accelerators: int
    instance_gpus: int

    @property
    def fraction(self) -> float:
        return self.accelerators / self.instance_gpus


def gpus_needed(model: ModelPreset, instance_type: str, *, max_total_tokens: int, memory_fraction: float) -> int | None:
    """The fewest GPUs of `instance_type` vLLM can split `model` over (heads divide evenly) that hold it; None: none."""
    for n in range(1, gpu_info(instance_type).count + 1):
        if valid_shards(n, model.architecture) != n:
            continue
        report = size(
            params_b=model.params_b,
            instance_type=instance_type,
            quantize=None,
            shards=n,
            architecture=model.architecture,
            max_total_tokens=min(max_total_tokens, model.context_length or max_total_tokens),
            memory_fraction=memory_fraction,
            quantize_bytes=VLLM_QUANTIZE_BYTES,
        )
        if report.fits:
            return n
    return None


def _try_plan(
    models: Sequence[ModelPreset], instance_type: str, max_total_tokens: int, memory_fraction: float
) -> tuple[list[Share] | None, list[int | None]]:
    gpus = gpu_info(instance_type).count
    needs = [
        gpus_needed(m, instance_type, max_total_tokens=max_total_tokens, memory_fraction=memory_fraction)
        for m in models
    ]
    if any(n is None for n in needs) or sum(n or 0 for n in needs) > gpus:
        return None, needs
    return [Share(m, n or 0, gpus) for m, n in zip(models, needs, strict=True)], needs


def instances_for(models: Sequence[ModelPreset], *, max_total_tokens: int, memory_fraction: float) -> list[str]:
    """Instance types (SDK table) on which every model gets its own GPUs, cheapest known price first."""
    fitting = [t for t in gpu_table() if _try_plan(models, t, max_total_tokens, memory_fraction)[0] is not None]
    return sorted(fitting, key=lambda t: (HOURLY_USD.get(t, math.inf), gpu_table()[t].memory_mib, t))


def plan_components(
    models: Sequence[ModelPreset], instance_type: str, *, max_total_tokens: int, memory_fraction: float
) -> list[Share]:
    """Each model's GPUs on `instance_type`; a ValueError naming what each needs and the instance types that fit."""
    shares, needs = _try_plan(models, instance_type, max_total_tokens, memory_fraction)
    if shares is not None:
        return shares
    gpus = gpu_info(instance_type).count
    asked = ", ".join(
        f"{m.name}: {n if n is not None else 'more than all'} GPU(s)" for m, n in zip(models, needs, strict=True)
    )
    fitting = instances_for(models, max_total_tokens=max_total_tokens, memory_fraction=memory_fraction)
    pick = ", ".join(fitting[:4]) if fitting else "none in the SageMaker SDK's GPU table: use fewer models"
    raise ValueError(
        f"the models do not fit one {instance_type} ({gpus} GPU(s), {gpu_info(instance_type).memory_gib:.0f} GiB): "
        f"each inference component needs whole GPUs of its own ({asked}). Instance types that fit: {pick}"
    )
