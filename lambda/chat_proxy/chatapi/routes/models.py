"""The models this deployment serves and how a request's ``model`` picks one: the one model of ``MODEL_ID`` (and
``MODEL_ALIASES``), or each model of ``MODEL_ROUTES`` (``chatapi.model_routes``), each with its own dialect built
once at start-up. An unknown name is OpenAI's 404 ``model_not_found``; a chat model asked for embeddings (or the
reverse) a 400 saying which models serve what."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chatapi.dialects import Dialect
from chatapi.errors import ApiError
from chatapi.settings import Settings


@dataclass(frozen=True, slots=True)
class ServedModel:
    """One model: its served name (what the engine is sent), other names, kind and the dialect that reaches it."""

    name: str
    aliases: tuple[str, ...]
    kind: str  # chat | embedding
    dialect: Dialect
    settings: Settings  # the deployment's settings with this model's name, engine and component
    base: str | None = None  # an adapter's base model
    context_length: int | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


class ModelTable:
    """Every served model, in the order configured; the first chat model answers requests that name none."""

    def __init__(self, models: list[ServedModel]) -> None:
        if not models:
            raise ValueError("a deployment serves at least one model")
        self.models = models
        self._by_name = {name: model for model in models for name in model.names}

    def first(self, kind: str) -> ServedModel | None:
        return next((m for m in self.models if m.kind == kind), None)

    @property
    def default(self) -> ServedModel:
        """The model of ``/generate`` (which names none) and of requests without ``model``."""
        return self.first("chat") or self.models[0]

    def _names(self, kind: str | None = None) -> str:
        return ", ".join(repr(n) for m in self.models if kind is None or m.kind == kind for n in m.names)

    def pick(self, model: str | None, kind: str) -> ServedModel:
        """The model a request of ``kind`` names (omitted: the first of that kind, as vLLM takes it)."""
        found = self._by_name.get(model) if model is not None else self.first(kind)
        if found is None and model is None:
            raise ApiError(
                400, f"This deployment serves no {kind} model. It serves: {self._names()}.", param="model",
                code="model_not_supported",
            )  # fmt: skip
        if found is None:
            raise ApiError(
                404,
                f"The model '{model}' does not exist or you do not have access to it. This deployment serves: "
                f"{self._names()}.",
                param="model",
                code="model_not_found",
            )
        if found.kind != kind:
            serving = self._names(kind)
            what = f"{kind} models here: {serving}" if serving else f"no {kind} model is deployed here"
            route = "/v1/embeddings" if found.kind == "embedding" else "/v1/chat/completions or /v1/completions"
            raise ApiError(
                400,
                f"The model '{model}' is a {found.kind} model (use it with {route}); {what}.",
                param="model",
                code="model_not_supported",
            )
        return found

    def card(self, name: str, created: int) -> dict[str, Any]:
        """What vLLM's /v1/models reports (``vllm/entrypoints/openai/models/``: ``owned_by``, ``root``,
        ``parent``, ``max_model_len``) plus the model's ``kind``; ``root`` is the served model, ``parent`` an
        adapter's base. 404 ``model_not_found`` for a name not served."""
        model = self._by_name.get(name)
        if model is None:
            raise ApiError(
                404,
                f"The model '{name}' does not exist or you do not have access to it. This deployment serves: "
                f"{self._names()}.",
                param="model",
                code="model_not_found",
            )
        return {
            "id": name,
            "object": "model",
            "created": created,
            "owned_by": model.dialect.owned_by,
            "root": model.name,
            "parent": model.base,
            "max_model_len": model.context_length or model.settings.max_total_tokens,
            "kind": model.kind,
        }

    def cards(self, created: int) -> list[dict[str, Any]]:
        return [self.card(name, created) for model in self.models for name in model.names]
