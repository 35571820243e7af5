"""OpenAI-speaking engines' answers and chunks (vLLM's OpenAI server, TGI's Messages API) normalised to OpenAI's
published schema: ``refusal`` present, tool call ``arguments`` a string, TGI's ``stop_sequence``/``eos_token``
finish reasons as ``stop``, ``tool_calls`` when the model called a tool, ``null`` fields the schema does not allow
dropped, the model named as the client knows it. Extra fields the engine adds (``reasoning``,
``system_fingerprint``) stay. The usage chunk reaches the client only when it asked for it."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from chatapi.backend import engine_error
from chatapi.errors import ApiError, incomplete_stream

SSE_DONE = b"data: [DONE]\n\n"


# Null is allowed by OpenAI's schema only for these fields of a message / delta / choice.
NULLABLE = frozenset({"content", "refusal", "logprobs", "finish_reason"})


FINISH_REASONS = {"eos_token": "stop", "stop_sequence": "stop", "eos": "stop"}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _without_nulls(obj: dict[str, Any], keep: frozenset[str] = NULLABLE) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if v is not None or k in keep}


def _tool_call(call: Any, *, stream: bool) -> Any:
    if not isinstance(call, dict):
        return call
    call = _without_nulls(call, frozenset())
    function = call.get("function")
    if isinstance(function, dict):
        function = _without_nulls(function, frozenset())
        if "arguments" in function and not isinstance(function["arguments"], str):
            function["arguments"] = json.dumps(function["arguments"], ensure_ascii=False)
        call["function"] = function
    if not stream and not call.get("id"):
        call["id"] = f"call_{uuid.uuid4().hex[:24]}"
    if stream and call.get("id") == "":
        del call["id"]
    return call


def _finish(reason: Any, called_tools: bool, engine_says: bool = False) -> Any:
    """OpenAI's finish reason. vLLM already reports OpenAI's (``engine_says``): ``tool_calls`` for auto or required
    tool choice, ``stop`` for a named function (vllm/entrypoints/openai/chat_completion/serving.py), as OpenAI does;
    TGI says ``stop``/``eos_token`` for any tool call, so a called tool becomes ``tool_calls`` there."""
    reason = FINISH_REASONS.get(reason, reason) if isinstance(reason, str) else reason
    return "tool_calls" if called_tools and reason == "stop" and not engine_says else reason


def _token_logprob(entry: Any) -> Any:
    """OpenAI requires ``bytes`` (nullable) on every token and top token; TGI's ChatCompletionLogprob has none."""
    if not isinstance(entry, dict):
        return entry
    entry = {"bytes": None, **entry}
    if isinstance(entry.get("top_logprobs"), list):
        entry["top_logprobs"] = [{"bytes": None, **t} if isinstance(t, dict) else t for t in entry["top_logprobs"]]
    return entry


def _logprobs(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    value = {"refusal": None, **value}
    if isinstance(value.get("content"), list):
        value["content"] = [_token_logprob(e) for e in value["content"]]
    return value


def _usage(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    usage = {k: v for k, v in value.items() if v is not None}
    if not all(isinstance(usage.get(k), int) for k in ("prompt_tokens", "completion_tokens")):
        return None
    usage.setdefault("total_tokens", usage["prompt_tokens"] + usage["completion_tokens"])
    return usage


def _as_function_call(holder: dict[str, Any]) -> None:
    """OpenAI's legacy shape for a request that sent ``functions``: the (first) call as ``function_call``."""
    calls = holder.pop("tool_calls", None)
    if isinstance(calls, list) and calls and isinstance(calls[0], dict):
        function = calls[0].get("function")
        if isinstance(function, dict):
            holder["function_call"] = function


def _legacy_finish(reason: Any) -> Any:
    return "function_call" if reason == "tool_calls" else reason


def normalize_completion(
    answer: Any, model: str, *, legacy_functions: bool = False, engine_finish: bool = False
) -> dict[str, Any]:
    """The engine's ``chat.completion`` in OpenAI's schema (see the module docstring)."""
    if not isinstance(answer, dict) or not isinstance(answer.get("choices"), list) or not answer["choices"]:
        raise ApiError(502, "The model answered in an unexpected shape.", type="upstream_error", code="bad_response")
    body = {k: v for k, v in answer.items() if v is not None}
    body["id"] = answer.get("id") or f"chatcmpl-{uuid.uuid4().hex}"
    body["object"] = "chat.completion"
    body["model"] = model
    body.setdefault("created", int(time.time()))
    choices = []
    for index, raw in enumerate(answer["choices"]):
        choice = _without_nulls(raw if isinstance(raw, dict) else {})
        message = _without_nulls(_dict(choice.get("message")))
        message["role"] = "assistant"
        message.setdefault("content", None)
        message.setdefault("refusal", None)
        calls = message.get("tool_calls")
        if isinstance(calls, list) and calls:
            message["tool_calls"] = [_tool_call(c, stream=False) for c in calls]
        else:
            message.pop("tool_calls", None)
        choice["message"] = message
        choice.setdefault("index", index)
        choice["logprobs"] = _logprobs(choice.get("logprobs"))
        reason = choice.get("finish_reason") or "stop"
        choice["finish_reason"] = _finish(reason, bool(message.get("tool_calls")), engine_finish)
        if legacy_functions:
            _as_function_call(message)
            choice["finish_reason"] = _legacy_finish(choice["finish_reason"])
        choices.append(choice)
    body["choices"] = choices
    usage = _usage(answer.get("usage"))
    if usage is None:
        body.pop("usage", None)
    else:
        body["usage"] = usage
    return body


def _sse(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


def _chunk_body(
    chunk: dict[str, Any], outcome: Any, object_name: str, completion_id: str, model: str
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """One engine chunk's usage (recorded in ``outcome``) and its body as the client gets it (the engine's error
    raised): nulls dropped, the id kept or made, the model named as the client knows it."""
    if "error" in chunk or chunk.get("object") == "error":
        raise engine_error(chunk)
    usage = _usage(chunk.get("usage"))
    if usage is not None:
        outcome.prompt_tokens = usage["prompt_tokens"]
        outcome.generated_tokens = usage["completion_tokens"]
    body = {k: v for k, v in chunk.items() if v is not None and k != "usage"}
    body["id"] = chunk.get("id") or completion_id
    body["object"] = object_name
    body["model"] = model
    body.setdefault("created", int(time.time()))
    return usage, body


def server_chat_stream(
    events: Iterable[tuple[str, dict[str, Any] | None]],
    *,
    model: str,
    include_usage: bool,
    outcome: Any,
    legacy_functions: bool = False,
    engine_finish: bool = False,
) -> Iterator[bytes]:
    """The engine's ``chat.completion.chunk`` events, normalised, ending in ``[DONE]``; an error after the start
    becomes an OpenAI error event. Records finish reason and token counts in ``outcome``."""
    called_tools: set[int] = set()
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    finished = False
    try:
        for _, chunk in events:
            if chunk is None:  # [DONE]
                if not finished:
                    raise incomplete_stream()
                yield SSE_DONE
                return
            usage, body = _chunk_body(chunk, outcome, "chat.completion.chunk", completion_id, model)
            choices = []
            for index, raw in enumerate(chunk.get("choices") or []):
                choice = _without_nulls(raw if isinstance(raw, dict) else {})
                choice.setdefault("index", index)
                delta = _without_nulls(_dict(choice.get("delta")))
                calls = delta.get("tool_calls")
                if isinstance(calls, list) and calls:
                    delta["tool_calls"] = [_tool_call(c, stream=True) for c in calls]
                    called_tools.add(choice["index"])
                else:
                    delta.pop("tool_calls", None)
                choice["delta"] = delta
                if "logprobs" in choice:
                    choice["logprobs"] = _logprobs(choice["logprobs"])
                reason = _finish(choice.get("finish_reason"), choice["index"] in called_tools, engine_finish)
                if legacy_functions:
                    _as_function_call(delta)
                    reason = _legacy_finish(reason)
                choice["finish_reason"] = reason
                if reason is not None:
                    outcome.finish_reason = reason
                    finished = True
                choices.append(choice)
            body["choices"] = choices
            if not choices and usage is not None:
                if include_usage:
                    yield _sse({**body, "usage": usage})
                continue
            if include_usage:
                body["usage"] = None
            yield _sse(body)
        if not finished:
            raise incomplete_stream()
        yield SSE_DONE  # the engine closed without [DONE] after finishing: end the client's stream properly
    except ApiError as exc:
        outcome.error_code = exc.code
        yield _sse(exc.body())
        yield SSE_DONE


def normalize_text_completion(answer: Any, model: str) -> dict[str, Any]:
    """vLLM's ``text_completion`` answer with the model named as the client knows it."""
    if not isinstance(answer, dict) or not isinstance(answer.get("choices"), list) or not answer["choices"]:
        raise ApiError(502, "The model answered in an unexpected shape.", type="upstream_error", code="bad_response")
    body = {k: v for k, v in answer.items() if v is not None}
    body["id"] = answer.get("id") or f"cmpl-{uuid.uuid4().hex}"
    body["object"] = "text_completion"
    body["model"] = model
    body.setdefault("created", int(time.time()))
    choices = []
    for index, raw in enumerate(answer["choices"]):
        choice = _without_nulls(raw if isinstance(raw, dict) else {}, frozenset({"logprobs", "finish_reason"}))
        choice.setdefault("index", index)
        choice.setdefault("logprobs", None)
        choice["finish_reason"] = _finish(choice.get("finish_reason") or "stop", False)
        choices.append(choice)
    body["choices"] = choices
    usage = _usage(answer.get("usage"))
    if usage is None:
        body.pop("usage", None)
    else:
        body["usage"] = usage
    return body


def server_completion_stream(
    events: Iterable[tuple[str, dict[str, Any] | None]],
    *,
    model: str,
    include_usage: bool,
    outcome: Any,
) -> Iterator[bytes]:
    """vLLM's ``text_completion`` chunks passed through (model named as the client knows it), ending in
    ``[DONE]``; the usage chunk only when the client asked; an error after the start becomes an error event."""
    completion_id = f"cmpl-{uuid.uuid4().hex}"
    finished = False
    try:
        for _, chunk in events:
            if chunk is None:  # [DONE]
                if not finished:
                    raise incomplete_stream()
                yield SSE_DONE
                return
            usage, body = _chunk_body(chunk, outcome, "text_completion", completion_id, model)
            choices = []
            for index, raw in enumerate(chunk.get("choices") or []):
                choice = _without_nulls(raw if isinstance(raw, dict) else {}, frozenset({"logprobs", "finish_reason"}))
                choice.setdefault("index", index)
                choice.setdefault("text", "")
                choice.setdefault("logprobs", None)
                reason = _finish(choice.get("finish_reason"), False)
                choice["finish_reason"] = reason
                if reason is not None:
                    outcome.finish_reason = reason
                    finished = True
                choices.append(choice)
            body["choices"] = choices
            if not choices and usage is not None:
                if include_usage:
                    yield _sse({**body, "usage": usage})
                continue
            yield _sse(body)  # OpenAI's completion chunk has no null usage
        if not finished:
            raise incomplete_stream()
        yield SSE_DONE
    except ApiError as exc:
        outcome.error_code = exc.code
        yield _sse(exc.body())
        yield SSE_DONE
