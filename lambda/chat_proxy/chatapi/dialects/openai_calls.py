"""Calls to an engine that speaks OpenAI itself (vLLM's OpenAI server, TGI's Messages API): the request passes
through, checked and capped (``openai_plan``), and the answer is normalised (``openai_shape``). Without a stream
the answer is streamed and assembled (``assemble``: SageMaker allows a stream 8 minutes, InvokeEndpoint 60 s),
except prompt logprobs, which vLLM sends only without a stream (checked on the real engine, tests/engine)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from chatapi.backend import SageMakerBackend, TgiStream
from chatapi.dialects import assemble
from chatapi.dialects.openai_plan import plan_server_chat, plan_server_completion
from chatapi.dialects.openai_shape import (
    normalize_completion,
    normalize_text_completion,
    server_chat_stream,
    server_completion_stream,
)
from chatapi.dialects.seam import Call, CallerText, StreamOutcome, message_texts, openai_outcome, prompt_texts
from chatapi.dialects.transport import open_stream
from chatapi.grammar import check_grammars
from chatapi.media import check_media
from chatapi.schemas import ChatCompletionRequest, CompletionRequest
from chatapi.settings import Settings
from chatapi.usage import Cost, Ticket

# vLLM 0.29 CompletionRequest.max_tokens defaults to 16 (vllm/entrypoints/openai/completion/protocol.py).
VLLM_COMPLETIONS_DEFAULT_MAX_TOKENS = 16


def _assembled(backend: SageMakerBackend, payload: dict[str, Any], assemble_: Callable[[Iterator[Any]], Any]) -> Any:
    """The answer streamed (with the usage chunk) and assembled into the engine's non-stream shape."""
    stream, events = open_stream(backend, {**payload, "stream": True, "stream_options": {"include_usage": True}})
    try:
        return assemble_(events)
    finally:
        stream.close()


def messages_chat(
    request: ChatCompletionRequest,
    settings: Settings,
    backend: SageMakerBackend,
    *,
    path: str,
    max_tokens_of: Callable[[ChatCompletionRequest, Settings], int | None],
    reshape: Callable[[dict[str, Any]], None],
    defuse: Callable[[dict[str, Any]], dict[str, Any]],
    engine_finish: bool,
) -> Call:
    """Chat rendered by the engine's own template. The dialect supplies its policy ``path``, the limit it sends,
    how the body is ``reshape``d for the engine, how media URLs are ``defuse``d after the media check, and whether
    the engine reports OpenAI's finish reasons itself (``engine_finish``)."""
    check_grammars(request.model_dump(mode="json", exclude_unset=True, by_alias=True))
    plan = plan_server_chat(request, settings, path=path, max_tokens_of=max_tokens_of)
    reshape(plan.payload)
    # The engine fetches media URLs itself: only data: URLs and the allowed https hosts pass (chatapi.media).
    check_media(plan.payload, settings.image_url_domains)
    payload = defuse(plan.payload)
    named_tool = engine_finish and isinstance(payload.get("tool_choice"), dict)

    def answer(outcome: StreamOutcome) -> dict[str, Any]:
        if payload.get("prompt_logprobs") is not None:
            found = backend.invoke(payload)
        else:
            found = _assembled(backend, payload, lambda events: assemble.openai_chat(events, named_tool=named_tool))
        body = normalize_completion(
            found, settings.model_id, legacy_functions=plan.legacy_functions, engine_finish=engine_finish
        )
        return openai_outcome(body, outcome)

    def stream(ticket: Ticket, outcome: StreamOutcome) -> tuple[TgiStream, Iterator[bytes]]:
        opened, events = open_stream(backend, payload)
        # plan_server_chat always asks the engine for the usage chunk; server_chat_stream drops it unless the
        # client asked, so the ticket keeps it.
        body = server_chat_stream(
            ticket.watch_openai(events),
            model=settings.model_id,
            include_usage=plan.include_usage,
            outcome=outcome,
            legacy_functions=plan.legacy_functions,
            engine_finish=engine_finish,
        )
        return opened, body

    # What the engine tokenizes: the messages and the tool/format schemas its template renders into the prompt.
    rendered = {k: payload[k] for k in ("messages", "tools", "response_format") if k in payload}
    cost = Cost.of(
        json.dumps(rendered, ensure_ascii=False),
        # vLLM takes either name as the client sent it; neither: the rest of the context.
        payload.get("max_tokens", payload.get("max_completion_tokens")),
        settings,
        sequences=int(payload.get("n") or 1),
        messages=len(payload["messages"]),
    )
    said = CallerText("messages", message_texts(payload["messages"]))
    return Call(cost, json.dumps(payload["messages"], ensure_ascii=False), answer, stream, shape="chat", said=said)


def _prompt_scoring(payload: dict[str, Any]) -> bool:
    """A completions request that scores its prompt (``prompt_logprobs``, or ``echo`` with ``logprobs``): vLLM 0.29
    reports prompt logprobs only in its answer without a stream (checked on the real engine, tests/engine)."""
    return payload.get("prompt_logprobs") is not None or (
        bool(payload.get("echo")) and payload.get("logprobs") is not None
    )


def openai_completion(request: CompletionRequest, settings: Settings, backend: SageMakerBackend) -> Call:
    """vLLM serves OpenAI completions itself: the request passes through (prompt lists, token ids, ``n``, ...)."""
    plan = plan_server_completion(request, settings)
    check_grammars(plan.payload)
    check_media(plan.payload, settings.image_url_domains)
    payload = plan.payload
    prompts = payload["prompt"]
    # A list of strings, or of token-id lists, is one prompt each; a string or one token-id list is one.
    count = len(prompts) if isinstance(prompts, list) and prompts and not isinstance(prompts[0], int) else 1

    def answer(outcome: StreamOutcome) -> dict[str, Any]:
        if _prompt_scoring(payload):
            found = backend.invoke(payload)
        else:
            token_ids = bool(payload.get("return_token_ids"))
            found = _assembled(backend, payload, lambda events: assemble.openai_completion(events, token_ids=token_ids))
        return openai_outcome(normalize_text_completion(found, settings.model_id), outcome)

    def stream(ticket: Ticket, outcome: StreamOutcome) -> tuple[TgiStream, Iterator[bytes]]:
        opened, events = open_stream(backend, payload)
        body = server_completion_stream(
            ticket.watch_openai(events), model=settings.model_id, include_usage=plan.include_usage, outcome=outcome
        )
        return opened, body

    cost = Cost.of(
        json.dumps(prompts, ensure_ascii=False),
        # vLLM's completions default is 16 tokens (CompletionRequest.max_tokens), not the rest of the context.
        payload.get("max_tokens", VLLM_COMPLETIONS_DEFAULT_MAX_TOKENS),
        settings,
        sequences=count * int(payload.get("n") or 1),
        messages=count,
    )
    said = CallerText("prompt", prompt_texts(prompts))
    return Call(cost, json.dumps(prompts, ensure_ascii=False), answer, stream, shape="completions", said=said)
