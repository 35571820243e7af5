"""Several models on one endpoint: the stack's other chat models, its embedding model and its LoRA adapters, each
an inference component beside the first model's, and the route map the chat API reads (MODEL_ROUTES)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from constructs import Construct
from constructs.api.settings import model_aliases
from constructs.engines.vllm_endpoint import VllmEndpoint, VllmModel, vllm_container
from constructs.facts.catalog import VLLM_GPU_MEMORY_UTILIZATION
from constructs.facts.component_plan import Share
from constructs.facts.presets import ModelPreset
from constructs.hosting.components import AdapterComponent, ModelComponent

if TYPE_CHECKING:
    from stacks.config import AppConfig

# vLLM's pooling runner: an embedding model answers /v1/embeddings (vllm 0.29 config/model.py, RunnerOption).
POOLING_RUNNER = "pooling"


def several(c: AppConfig) -> bool:
    """True when the config asks for more than one component (models, adapters or an embedding model)."""
    return bool(c.models or c.adapters or c.embedding_model is not None)


class SeveralModels(Construct):
    """The components beside `base`'s own, and `routes`: served name (and alias) -> component, kind, engine."""

    def __init__(self, scope: Construct, c: AppConfig, *, shares: list[Share], base: VllmEndpoint) -> None:
        super().__init__(scope, "Models")
        assert base.component is not None
        self.shares = shares
        first = shares[0].model
        self.routes: dict[str, dict[str, Any]] = {}
        self.lines: list[tuple[str, str, Share | None]] = []  # (served name, component, share) for the summary
        self._route(first, base.component.name, "chat", base.settings.max_total_tokens)
        self.lines.append((base.settings.model_name, base.component.name, shares[0]))
        self.components: list[ModelComponent] = []
        for index, share in enumerate(shares[1:], start=1):
            model = share.model
            kind = model.kind
            spec = vllm_container(
                self._settings(c, model, kind),
                kind=kind,
                instance_type=base.hosting.instance_type,
                accelerators=share.accelerators,
            )
            if c.health_check_timeout is not None:
                # The user's start-up timeout applies to every component, as it does to the first.
                spec = dataclasses.replace(spec, health_check_timeout=c.health_check_timeout)
            component = ModelComponent(self, f"Model{index}", host=base, spec=spec)
            self.components.append(component)
            self._route(model, component.name, kind, spec.context_length)
            self.lines.append((spec.served_name, component.name, share))
        self.adapters: list[AdapterComponent] = []
        for name, uri in c.adapters:
            adapter = AdapterComponent(self, f"Adapter-{name}", host=base, artifact_url=uri)
            self.adapters.append(adapter)
            self.routes[name] = {
                "component": adapter.name,
                "kind": "chat",
                "engine": "vllm",
                "base": base.settings.model_name,
                "context_length": base.settings.max_total_tokens,
            }
            self.lines.append((name, adapter.name, None))

    def _route(self, model: ModelPreset, component: str, kind: str, context_length: int | None) -> None:
        route = {"component": component, "kind": kind, "engine": "vllm"}
        if context_length is not None:
            route["context_length"] = context_length  # type: ignore[assignment]
        for name in (model.hf_model_id, *model_aliases(model.hf_model_id, model.name)):
            self.routes[name] = route

    @staticmethod
    def _settings(c: AppConfig, model: ModelPreset, kind: str) -> VllmModel:
        memory = c.gpu_memory_utilization if c.gpu_memory_utilization is not None else VLLM_GPU_MEMORY_UTILIZATION
        max_len = min(c.max_total_tokens, model.context_length or c.max_total_tokens)
        return VllmModel(
            hf_model_id=model.hf_model_id,
            served_model_name=model.hf_model_id,
            revision=model.revision,
            image=c.vllm_image,
            vllm_version=c.vllm_version,
            params_b=model.params_b,
            architecture=model.architecture,
            context_length=model.context_length,
            max_total_tokens=max_len,
            gpu_memory_utilization=memory,
            hf_token_secret=c.hf_token_secret if model.gated else None,
            tool_call_parser=model.tool_call_parser if kind == "chat" else None,
            media_domains=c.image_url_domains if kind == "chat" else (),
            runner=POOLING_RUNNER if kind == "embedding" else None,
        )
