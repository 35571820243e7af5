"""``MODEL_ROUTES``: several models (and LoRA adapters) on one endpoint, each its own inference component.

A JSON object from each served model name (and alias) to where it lives and what it does::

    {"qwen2.5-7b-instruct": {"component": "qwen-ic", "kind": "chat", "engine": "vllm", "context_length": 32768},
     "qwen":                {"component": "qwen-ic", "kind": "chat", "engine": "vllm"},
     "support-bot":         {"component": "support-bot-ic", "kind": "chat", "engine": "vllm",
                             "base": "qwen2.5-7b-instruct"},
     "bge-small":           {"component": "bge-ic", "kind": "embedding", "engine": "vllm"}}

The contract (``component``, ``kind``, ``engine``) is what the infrastructure writes; the optional keys are ours:
``base`` (an adapter's base model, listed by ``/v1/models`` as its ``parent``), ``context_length`` (listed as
``max_model_len``) and ``prompt_family`` (a chat model's prompt: default ``server``, the engine renders the
model's own template). Names that share a component are one model: the first one listed is its served name (what
the engine is sent as ``model``), the others its aliases. An adapter is an inference component of its own
(SageMaker developer guide, "Fine-tune models with adapter inference components": "After you create the adapter
inference component, you can invoke it directly"), so it is routed like any model.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chatapi.prompts import FAMILIES

MODEL_ROUTES = "MODEL_ROUTES"
KINDS = ("chat", "embedding")
SERVER_FAMILY = "server"
# The API's pattern and length for inference component names (SageMaker API reference, CreateInferenceComponent:
# InferenceComponentName, pattern ^[a-zA-Z0-9]([\-a-zA-Z0-9]*[a-zA-Z0-9])?$, length 1-63).
COMPONENT_PATTERN = r"^[a-zA-Z0-9]([\-a-zA-Z0-9]*[a-zA-Z0-9])?$"
MAX_NAME_CHARS = 256


class ModelRoute(BaseModel):
    """Where one served name goes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    component: str = Field(min_length=1, max_length=63, pattern=COMPONENT_PATTERN)
    kind: Literal["chat", "embedding"]
    engine: Literal["vllm", "tgi"]
    base: str | None = Field(default=None, min_length=1)
    context_length: int | None = Field(default=None, ge=1)
    prompt_family: str | None = None


class ModelRoutesError(ValueError):
    """``MODEL_ROUTES`` is not a valid model map; the message names the entry."""


def _field_errors(name: str, err: ValidationError) -> str:
    parts = []
    for item in err.errors():
        where = ".".join(str(p) for p in item["loc"]) or "entry"
        parts.append(f"{where}: {item['msg']}")
    return f"{MODEL_ROUTES}[{name!r}]: " + "; ".join(parts)


def parse_model_routes(raw: str) -> dict[str, ModelRoute]:
    """The model map in ``raw`` (JSON), in its order; ``ModelRoutesError`` naming the entry when it is not valid."""
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ModelRoutesError(f"{MODEL_ROUTES} is not JSON: {exc}") from None
    if not isinstance(data, dict) or not data:
        raise ModelRoutesError(
            f"{MODEL_ROUTES} must be a non-empty JSON object from model name to "
            '{"component": ..., "kind": "chat" | "embedding", "engine": "vllm" | "tgi"}'
        )
    routes: dict[str, ModelRoute] = {}
    by_component: dict[str, tuple[str, ModelRoute]] = {}
    for name, entry in data.items():
        if not name.strip() or name != name.strip() or len(name) > MAX_NAME_CHARS:
            raise ModelRoutesError(
                f"{MODEL_ROUTES}[{name!r}]: a model name must be 1-{MAX_NAME_CHARS} characters without surrounding "
                "spaces"
            )
        if not isinstance(entry, dict):
            raise ModelRoutesError(f"{MODEL_ROUTES}[{name!r}]: expected an object, got {type(entry).__name__}")
        try:
            route = ModelRoute.model_validate(entry)
        except ValidationError as exc:
            raise ModelRoutesError(_field_errors(name, exc)) from None
        if route.kind == "embedding" and route.engine != "vllm":
            # TGI generates text only; embeddings are vLLM's pooling runner (TEI would be another engine).
            raise ModelRoutesError(f"{MODEL_ROUTES}[{name!r}]: an embedding model needs engine 'vllm'")
        family = route.prompt_family
        if family is not None and family not in FAMILIES and family != SERVER_FAMILY:
            allowed = sorted([*FAMILIES, SERVER_FAMILY])
            raise ModelRoutesError(f"{MODEL_ROUTES}[{name!r}].prompt_family: {family!r} is not one of {allowed}")
        first = by_component.get(route.component)
        if first is not None and (first[1].kind, first[1].engine) != (route.kind, route.engine):
            raise ModelRoutesError(
                f"{MODEL_ROUTES}[{name!r}]: component {route.component!r} is also {first[0]!r} "
                f"({first[1].kind}, {first[1].engine}); names of one component must agree on kind and engine"
            )
        by_component.setdefault(route.component, (name, route))
        routes[name] = route
    return routes
