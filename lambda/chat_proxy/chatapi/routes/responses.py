"""The Responses routes: ``POST /v1/responses``, and ``GET``/``DELETE /v1/responses/{id}`` where responses are
stored. A request runs through the chat route itself (``chatapi.responses``), so limits, metering and logging are
the chat route's; a chat error is answered with the Responses field it came from in ``param``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from chatapi.errors import ApiError
from chatapi.responses import ResponsesRequest
from chatapi.responses_chat import (
    chat_request,
    check_supported,
    input_items,
    parse_items,
    rename_param,
    to_chat,
)
from chatapi.responses_out import ResponseShell, from_chat_completion, response_events
from chatapi.responses_store import ResponseStore
from chatapi.streaming import EventStreamResponse

STATELESS = (
    "This deployment does not store responses, so there is nothing to {what}: send the whole conversation in "
    "input instead (earlier messages, function_call and function_call_output items), or redeploy with "
    "-c responses_store=true to keep responses for previous_response_id and GET /v1/responses/{{id}}."
)


def responses_router(
    *,
    model_id: str | Callable[[str | None], str],
    chat: Callable[[Any, Request], Response],
    caller: Callable[[Request], str],
    store: ResponseStore | None,
    responses: dict[int | str, dict[str, Any]],
    stream_content: dict[str, Any],
) -> APIRouter:
    """The routes; ``chat`` is the chat-completions route function, ``caller`` resolves who calls."""
    router = APIRouter()

    def stored_or_refuse(what: str, param: str | None) -> ResponseStore:
        if store is None:
            raise ApiError(400, STATELESS.format(what=what), param=param, code="store_disabled")
        return store

    @router.post(
        "/v1/responses",
        response_model=None,
        tags=["openai"],
        responses={
            200: {"content": {"application/json": {"schema": {"type": "object"}}, **stream_content}},
            **responses,
        },
    )
    def create_response(request: ResponsesRequest, http_request: Request) -> Response:
        """OpenAI Responses: ``input``, ``instructions``, function ``tools``; ``stream: true`` answers the typed
        Responses SSE events."""
        check_supported(request)
        who = caller(http_request)
        history: list[dict[str, Any]] = []
        if request.previous_response_id is not None:
            kept = stored_or_refuse("continue", "previous_response_id")
            history = kept.get(who, request.previous_response_id, param="previous_response_id").conversation()
        items = input_items(request)
        keep = store is not None and request.store is not False
        translation = to_chat(request, parse_items(history) if history else [], request.max_output_tokens)
        chat_body = chat_request(translation)
        # The served name of the chat model the request picks (a model map's, or the one MODEL_ID).
        model = model_id if isinstance(model_id, str) else model_id(request.model)
        shell = ResponseShell(request, model, request.max_output_tokens, stored=keep)

        def kept_final(final: dict[str, Any]) -> None:
            if keep and store is not None:
                final["store"] = store.put(who, final, [*history, *items])

        try:
            answer = chat(chat_body, http_request)
        except ApiError as exc:
            raise rename_param(exc, translation.origins) from None
        if isinstance(answer, EventStreamResponse):
            answer.map_chunks(lambda chunks: response_events(shell, chunks, kept_final))
            return answer
        completion = json.loads(bytes(answer.body))
        body = from_chat_completion(shell, completion)
        kept_final(body)
        return JSONResponse(body)

    @router.get("/v1/responses/{response_id}", response_model=None, tags=["openai"], responses=responses)
    def get_response(response_id: str, http_request: Request) -> dict[str, Any]:
        """A stored response of the calling identity (only where this deployment stores responses)."""
        return stored_or_refuse("retrieve", None).get(caller(http_request), response_id).response

    @router.delete("/v1/responses/{response_id}", response_model=None, tags=["openai"], responses=responses)
    def delete_response(response_id: str, http_request: Request) -> dict[str, Any]:
        """Delete a stored response of the calling identity."""
        stored_or_refuse("delete", None).delete(caller(http_request), response_id)
        return {"id": response_id, "object": "response", "deleted": True}

    return router
