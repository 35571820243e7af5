"""OpenAI's routes: ``/v1/models``, ``/v1/models/{model}``, ``/v1/chat/completions``, ``/v1/completions`` and
``/v1/embeddings``; each model route picks its model (``models.ModelTable``) by the request's ``model``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from chatapi.embeddings import EmbeddingRequest
from chatapi.routes import include_flat
from chatapi.routes.calls import ERROR_RESPONSES, STREAM_CONTENT, CallRunner
from chatapi.routes.models import ModelTable
from chatapi.schemas import (
    ChatCompletion,
    ChatCompletionRequest,
    Completion,
    CompletionRequest,
    EmbeddingList,
    ErrorBody,
    ModelCard,
    ModelList,
)

ChatRoute = Callable[[ChatCompletionRequest, Request], Response]


def chat_route(models: ModelTable, runner: CallRunner) -> ChatRoute:
    """The chat completions route function (the Responses routes run their requests through it too)."""

    def chat_completions(request: ChatCompletionRequest, http_request: Request) -> Response:
        """OpenAI chat completions; ``stream: true`` answers ``chat.completion.chunk`` SSE ending in ``[DONE]``."""
        served = models.pick(request.model, "chat")
        return runner.run(
            served.dialect.chat(request),
            http_request,
            stream=bool(request.stream),
            route="chat",
            completion_text=lambda body: str(body["choices"][0]["message"].get("content")),
            model=served.name,
        )

    return chat_completions


def openai_router(
    models: ModelTable, runner: CallRunner, chat: ChatRoute, responses: APIRouter, *, created: int
) -> APIRouter:
    """The OpenAI routes, with ``responses`` (the Responses routes, which run through ``chat``) after chat."""
    router = APIRouter()

    @router.get("/v1/models", response_model=ModelList, tags=["openai"])
    async def list_models() -> dict[str, Any]:
        """The deployed models, each under its served name and each alias, with its kind."""
        return {"object": "list", "data": models.cards(created)}

    @router.get(
        "/v1/models/{model:path}", response_model=ModelCard, tags=["openai"], responses={404: {"model": ErrorBody}}
    )
    async def model(model: str) -> dict[str, Any]:
        """A deployed model, by its id (which may contain ``/``, as Hugging Face ids do)."""
        # ... or by an alias; any other name is OpenAI's 404 model_not_found.
        return models.card(model, created)

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
        served = models.pick(request.model, "chat")
        return runner.run(
            served.dialect.completion(request),
            http_request,
            stream=bool(request.stream),
            route="completions",
            model=served.name,
        )

    @router.post(
        "/v1/embeddings",
        response_model=None,
        tags=["openai"],
        responses={200: {"model": EmbeddingList}, **ERROR_RESPONSES},
    )
    def embeddings(request: EmbeddingRequest, http_request: Request) -> Response:
        """OpenAI embeddings from an embedding model of ``MODEL_ROUTES`` (a string, strings or token ids;
        ``encoding_format`` float or base64); a chat model is a 400, an unknown one a 404."""
        served = models.pick(request.model, "embedding")
        return runner.run(
            served.dialect.embeddings(request), http_request, stream=False, route="embeddings", model=served.name
        )

    return router
