"""Non-streamed answers assembled from the engine's stream.

SageMaker gives InvokeEndpoint 60 seconds and InvokeEndpointWithResponseStream 8 minutes (docs/limits.md), so the
proxy asks the engine for a stream even when the client did not, and builds the answer the engine would have given
without one:

- TGI generate events (``{"token", "generated_text", "details"}``) -> TGI's ``[{"generated_text", "details"}]``:
  ``details`` carries the finish reason, token counts (``input_length`` from the stream's last event), seed, the
  streamed tokens and, when asked, their top tokens. ``prefill`` stays empty: TGI refuses
  ``decoder_input_details`` and ``best_of`` on a stream (``router/src/server.rs`` generate_stream_internal,
  ValidationError::PrefillDetailsStream / BestOfStream), so a ``/generate`` asking for either still uses
  InvokeEndpoint. The stream's last event has ``generated_text`` with the prompt prepended when
  ``return_full_text`` is set, as the non-stream answer has. vLLM's completions chunks reach here already as TGI
  events (``tgi_to_vllm.tgi_events``).
- OpenAI ``chat.completion.chunk`` events (vLLM's server, TGI's Messages API) -> one ``chat.completion``: content,
  reasoning, refusal and tool-call arguments joined per choice, token logprobs concatenated, the finish reason and
  the usage chunk (the request always asks for it with ``stream_options.include_usage``: vLLM 0.29 sends usage on a
  stream only then, ``vllm/entrypoints/serve/utils/api_utils.py`` should_include_usage).

- OpenAI ``text_completion`` chunks (vLLM's completions, prompt lists and ``n`` included) -> one
  ``text_completion``: text joined per choice, the legacy logprobs lists (tokens, token_logprobs, top_logprobs,
  text_offset) concatenated, vLLM's prompt extras (``prompt_logprobs``, ``prompt_token_ids``) as first sent.

An error event raises the engine's error; a stream that ends before its finish raises ``incomplete_stream``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from chatapi.backend import engine_error, tgi_error
from chatapi.errors import incomplete_stream

Event = tuple[str, dict[str, Any] | None]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _index(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


TEXT_FIELDS = ("content", "reasoning_content", "reasoning", "refusal")


def tgi_generation(events: Iterable[Event]) -> list[dict[str, Any]]:
    """TGI's non-stream answer (a one-element list, as SageMaker's TGI answers) from TGI stream events."""
    tokens: list[Any] = []
    top_tokens: list[Any] = []
    for _, event in events:
        if event is None:
            continue
        if "error" in event:
            raise tgi_error(event)
        if isinstance(event.get("token"), dict):
            tokens.append(event["token"])
        if event.get("top_tokens") is not None:
            top_tokens.append(event["top_tokens"])
        if event.get("generated_text") is None:
            continue
        item: dict[str, Any] = {"generated_text": event["generated_text"]}
        streamed = event.get("details")
        if isinstance(streamed, dict):
            details = {**streamed, "prefill": [], "tokens": tokens}
            if top_tokens:
                details["top_tokens"] = top_tokens
            item["details"] = details
        return [item]
    raise incomplete_stream()


def _join_tool_call(calls: dict[int, dict[str, Any]], call: Any) -> None:
    """One streamed tool-call delta into the call it continues: the id, type and name come once (TGI repeats the
    id and sends ``name: null`` after the first piece), the arguments in pieces."""
    if not isinstance(call, dict):
        return
    index = _index(call.get("index"), len(calls))
    entry = calls.setdefault(index, {"id": None, "type": "function", "function": {"name": None, "arguments": ""}})
    if call.get("id") and not entry["id"]:
        entry["id"] = call["id"]
    if isinstance(call.get("type"), str):
        entry["type"] = call["type"]
    function = _dict(call.get("function"))
    if function.get("name") and not entry["function"]["name"]:
        entry["function"]["name"] = function["name"]
    arguments = function.get("arguments")
    if arguments is not None:
        piece = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
        entry["function"]["arguments"] += piece


def _choices(events: Iterable[Event], answer: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Each choice delta of an OpenAI stream up to ``[DONE]``; the chunks' id, created, model, fingerprint and usage
    go into ``answer``, and an error event raises the engine's error."""
    for _, chunk in events:
        if chunk is None:  # [DONE]
            return
        if "error" in chunk or chunk.get("object") == "error":
            raise engine_error(chunk)
        for key in ("id", "created", "model", "system_fingerprint"):
            if chunk.get(key) not in (None, "") and key not in answer:
                answer[key] = chunk[key]
        if isinstance(chunk.get("usage"), dict):
            answer["usage"] = chunk["usage"]
        yield from (raw for raw in chunk.get("choices") or [] if isinstance(raw, dict))


def _as_engine_serializes(arguments: str) -> str:
    """Streamed arguments are the text as generated (any JSON whitespace); without a stream vLLM parses them and
    writes ``json.dumps(..., ensure_ascii=False)`` (its tool parsers and named-function path), so the assembled call
    carries the same string. Arguments that are not JSON stay as generated, as vLLM leaves them."""
    try:
        return json.dumps(json.loads(arguments), ensure_ascii=False)
    except ValueError:
        return arguments


def openai_chat(events: Iterable[Event], *, named_tool: bool = False) -> dict[str, Any]:
    """One ``chat.completion`` from an OpenAI chat stream (normalise it with ``openai_shape.normalize_completion``).

    ``content`` as vLLM 0.29 answers without a stream (checked on the real engine, tests/engine): ``null`` when the
    model only called tools or only reasoned, ``""`` beside a call to a named function (``named_tool``)."""
    answer: dict[str, Any] = {"object": "chat.completion"}
    choices: dict[int, dict[str, Any]] = {}
    calls: dict[int, dict[int, dict[str, Any]]] = {}
    for raw in _choices(events, answer):
        index = _index(raw.get("index"), 0)
        choice = choices.setdefault(
            index, {"index": index, "message": {"role": "assistant"}, "logprobs": None, "finish_reason": None}
        )
        delta = _dict(raw.get("delta"))
        message = choice["message"]
        for name in TEXT_FIELDS:
            if isinstance(delta.get(name), str):
                message[name] = (message.get(name) or "") + delta[name]
        for call in delta.get("tool_calls") or []:
            _join_tool_call(calls.setdefault(index, {}), call)
        logprobs = raw.get("logprobs")
        if isinstance(logprobs, dict):
            joined = choice["logprobs"] or {}
            for name in ("content", "refusal"):
                if isinstance(logprobs.get(name), list):
                    joined[name] = (joined.get(name) or []) + logprobs[name]
            choice["logprobs"] = joined
        if raw.get("finish_reason") is not None:
            choice["finish_reason"] = raw["finish_reason"]
        if raw.get("stop_reason") is not None:
            choice["stop_reason"] = raw["stop_reason"]
    if not choices or any(c["finish_reason"] is None for c in choices.values()):
        raise incomplete_stream()
    for choice in choices.values():
        message = choice["message"]
        if not message.get("content") and (message.get("reasoning") or message.get("reasoning_content")):
            message["content"] = None  # all of it was reasoning
    for index, joined_calls in calls.items():
        message = choices[index]["message"]
        for call in joined_calls.values():
            call["function"]["arguments"] = _as_engine_serializes(call["function"]["arguments"])
        message["tool_calls"] = [joined_calls[i] for i in sorted(joined_calls)]
        if not message.get("content"):
            message["content"] = "" if named_tool else None  # as the engines answer a tool call without a stream
    answer["choices"] = [choices[i] for i in sorted(choices)]
    return answer


LOGPROB_LISTS = ("tokens", "token_logprobs", "top_logprobs", "text_offset")


def openai_completion(events: Iterable[Event], *, token_ids: bool = False) -> dict[str, Any]:
    """One ``text_completion`` from an OpenAI completions stream (normalise with ``normalize_text_completion``).
    vLLM's stream carries ``prompt_token_ids`` whatever was asked; its answer without a stream only with
    ``return_token_ids`` (``token_ids``)."""
    answer: dict[str, Any] = {"object": "text_completion"}
    choices: dict[int, dict[str, Any]] = {}
    for raw in _choices(events, answer):
        index = _index(raw.get("index"), 0)
        choice = choices.setdefault(index, {"index": index, "text": "", "logprobs": None, "finish_reason": None})
        if isinstance(raw.get("text"), str):
            choice["text"] += raw["text"]
        logprobs = raw.get("logprobs")
        if isinstance(logprobs, dict):
            joined = choice["logprobs"] or {name: [] for name in LOGPROB_LISTS}
            for name in LOGPROB_LISTS:
                if isinstance(logprobs.get(name), list):
                    joined[name] = joined[name] + logprobs[name]
            choice["logprobs"] = joined
        for name in ("prompt_logprobs", "prompt_token_ids", "token_ids") if token_ids else ("prompt_logprobs",):
            if raw.get(name) is not None:
                choice[name] = (choice.get(name) or []) + raw[name] if name == "token_ids" else raw[name]
        if raw.get("finish_reason") is not None:
            choice["finish_reason"] = raw["finish_reason"]
        if raw.get("stop_reason") is not None:
            choice["stop_reason"] = raw["stop_reason"]
    if not choices or any(c["finish_reason"] is None for c in choices.values()):
        raise incomplete_stream()
    answer["choices"] = [choices[i] for i in sorted(choices)]
    return answer
