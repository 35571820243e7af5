"""OpenAI's routes: ``/v1/models``, ``/v1/models/{model}``, ``/v1/chat/completions`` and ``/v1/completions``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from chatapi.dialects import Dialect
from chatapi.policy import check_model
from chatapi.routes import include_flat
from chatapi.routes.calls import ERROR_RESPONSES, STREAM_CONTENT, CallRunner
from chatapi.schemas import (
    ChatCompletion,
    ChatCompletionRequest,
    Completion,
    CompletionRequest,
    ErrorBody,
    ModelCard,
    ModelList,
)
from chatapi.settings import Settings

ChatRoute = Callable[[ChatCompletionRequest, Request], Response]


def chat_route(settings: Settings, dialect: Dialect, runner: CallRunner) -> ChatRoute:
    """The chat completions route function (the Responses routes run their requests through it too)."""

    def chat_completions(request: ChatCompletionRequest, http_request: Request) -> Response:
        """OpenAI chat completions; ``stream: true`` answers ``chat.completion.chunk`` SSE ending in ``[DONE]``."""
        check_model(request.model, settings.model_id, settings.model_aliases)
        return runner.run(
            dialect.chat(request),
            http_request,
            stream=bool(request.stream),
            route="chat",
            completion_text=lambda body: str(body["choices"][0]["message"].get("content")),
        )

    return chat_completions


def openai_router(
    settings: Settings, dialect: Dialect, runner: CallRunner, chat: ChatRoute, responses: APIRouter, *, created: int
) -> APIRouter:
    """The OpenAI routes, with ``responses`` (the Responses routes, which run through ``chat``) after chat."""
    router = APIRouter()
    served_names = (settings.model_id, *settings.model_aliases)

    def model_card(name: str) -> dict[str, Any]:
        """What vLLM's /v1/models reports (``vllm/entrypoints/openai/models/``: ``owned_by``, ``root``, ``parent``,
        ``max_model_len``), for the served name and each alias; ``root`` is the served model."""
        return {
            "id": name,
            "object": "model",
            "created": created,
            "owned_by": dialect.owned_by,
            "root": settings.model_id,
            "parent": None,
            "max_model_len": settings.max_total_tokens,
        }

    @router.get("/v1/models", response_model=ModelList, tags=["openai"])
    async def models() -> dict[str, Any]:
        """The deployed model."""
        # Listed under its served name and each alias (MODEL_ALIASES).
        return {"object": "list", "data": [model_card(name) for name in served_names]}

    @router.get(
        "/v1/models/{model:path}", response_model=ModelCard, tags=["openai"], responses={404: {"model": ErrorBody}}
    )
    async def model(model: str) -> dict[str, Any]:
        """The deployed model, by its id (which may contain ``/``, as Hugging Face ids do)."""
        # ... or by an alias (MODEL_ALIASES); any other name is OpenAI's 404 model_not_found.
        check_model(model, settings.model_id, settings.model_aliases)
        return model_card(model)

    router.add_api_route(
        "/v1/chat/completions",
        chat,
        methods=["POST"],
        response_model=None,
        tags=["openai"],
        responses={200: {"model": ChatCompletion, "content": STREAM_CONTENT}, **ERROR_RESPONSES},
    )

    include_flat(router, responses)

    @router.post(
        "/v1/completions",
        response_model=None,
        tags=["openai"],
        responses={200: {"model": Completion, "content": STREAM_CONTENT}, **ERROR_RESPONSES},
    )
    def completions(request: CompletionRequest, http_request: Request) -> Response:
        """OpenAI text completions of a raw prompt; ``stream: true`` answers ``text_completion`` SSE chunks."""
        check_model(request.model, settings.model_id, settings.model_aliases)
        return runner.run(dialect.completion(request), http_request, stream=bool(request.stream), route="completions")

    return router
