"""TGI's answers and stream events as OpenAI's ``chat.completion``/``text_completion`` objects and SSE chunks (stop
sequences cut, the prompt family's leading whitespace dropped), and TGI's own SSE passed through for ``/generate``.
Every function records what it saw in a ``StreamOutcome``: the one place token counts are read from."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from chatapi.backend import tgi_error
from chatapi.dialects.prompted import ChatPlan, CompletionPlan
from chatapi.dialects.seam import StreamOutcome
from chatapi.errors import ApiError, incomplete_stream
from chatapi.prompts import StopFilter, strip_stop

SSE_DONE = b"data: [DONE]\n\n"


def finish_reason(details: dict[str, Any] | None) -> str:
    return "length" if (details or {}).get("finish_reason") == "length" else "stop"


def first_generation(answer: Any) -> dict[str, Any]:
    """The first generation of a TGI answer (SageMaker's TGI answers a list, TGI itself an object)."""
    item = answer[0] if isinstance(answer, list) and answer else answer
    if not isinstance(item, dict) or not isinstance(item.get("generated_text"), str):
        raise ApiError(502, "The model answered in an unexpected shape.", type="upstream_error", code="bad_response")
    return item


def new_completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def chat_completion(answer: Any, plan: ChatPlan, model: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The OpenAI ``chat.completion`` object for a TGI answer, and the TGI details (for logs)."""
    generation = first_generation(answer)
    details = generation.get("details") if isinstance(generation.get("details"), dict) else None
    text = strip_stop(generation["generated_text"], plan.stops)
    if plan.strip_leading_whitespace:
        text = text.lstrip()
    body: dict[str, Any] = {
        "id": new_completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "finish_reason": finish_reason(details),
                "logprobs": None,
            }
        ],
    }
    usage = answer_usage(details)
    if usage is not None:
        body["usage"] = usage
    return body, details or {}


def answer_usage(details: dict[str, Any] | None) -> dict[str, int] | None:
    """Token counts of a non-stream TGI answer: TGI gives the prompt's as prefill tokens, the vLLM adapter as
    ``input_length``."""
    prompt_tokens = (details or {}).get("input_length")
    if not isinstance(prompt_tokens, int):
        prompt_tokens = len((details or {}).get("prefill") or []) or None
    return _usage(details, prompt_tokens)


def _usage(details: dict[str, Any] | None, prompt_tokens: int | None) -> dict[str, int] | None:
    completion = (details or {}).get("generated_tokens")
    if not isinstance(completion, int) or not isinstance(prompt_tokens, int):
        return None
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion, "total_tokens": prompt_tokens + completion}


def _sse(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


@dataclass(frozen=True, slots=True)
class _Text:
    text: str


@dataclass(frozen=True, slots=True)
class _Finish:
    reason: str
    usage: dict[str, int] | None


def _text_events(
    events: Iterable[tuple[str, dict[str, Any] | None]],
    stops: tuple[str, ...],
    strip_leading_whitespace: bool,
    outcome: StreamOutcome,
) -> Iterator[_Text | _Finish]:
    """Text deltas (stop sequences held back and cut, special tokens dropped), then the finish; raises ApiError."""
    stop_filter = StopFilter(stops, strip_leading_whitespace=strip_leading_whitespace)
    for _, event in events:
        if event is None:
            continue
        if "error" in event:
            raise tgi_error(event)
        token = event.get("token") or {}
        if not token.get("special") and isinstance(token.get("text"), str):
            text = stop_filter.push(token["text"])
            if text:
                outcome.text_chars += len(text)
                yield _Text(text)
        if event.get("generated_text") is not None:
            details = event.get("details") if isinstance(event.get("details"), dict) else None
            rest = stop_filter.flush()
            if rest:
                outcome.text_chars += len(rest)
                yield _Text(rest)
            outcome.finish_reason = finish_reason(details)
            outcome.generated_tokens = (details or {}).get("generated_tokens")
            usage = _usage(details, (details or {}).get("input_length"))
            outcome.record_usage(usage)
            yield _Finish(outcome.finish_reason, usage)
            return
    raise incomplete_stream()


def chat_stream(
    events: Iterable[tuple[str, dict[str, Any] | None]],
    plan: ChatPlan,
    *,
    model: str,
    include_usage: bool,
    outcome: StreamOutcome,
) -> Iterator[bytes]:
    """OpenAI ``chat.completion.chunk`` SSE for TGI stream events; errors after the start become an error event."""
    base = {"id": new_completion_id(), "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
    usage_field = {"usage": None} if include_usage else {}

    def chunk(delta: dict[str, Any], reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}
        return _sse({**base, "choices": [choice], **usage_field})

    yield chunk({"role": "assistant", "content": ""})
    try:
        for item in _text_events(events, plan.stops, plan.strip_leading_whitespace, outcome):
            if isinstance(item, _Text):
                yield chunk({"content": item.text})
                continue
            yield chunk({}, item.reason)
            if include_usage and item.usage is not None:
                yield _sse({**base, "choices": [], "usage": item.usage})
            yield SSE_DONE
            return
    except ApiError as exc:
        outcome.error_code = exc.code
        yield _sse(exc.body())
        yield SSE_DONE


def text_completion(answer: Any, plan: CompletionPlan, model: str) -> dict[str, Any]:
    """The OpenAI ``text_completion`` object for a TGI answer."""
    generation = first_generation(answer)
    details = generation.get("details") if isinstance(generation.get("details"), dict) else None
    body: dict[str, Any] = {
        "id": f"cmpl-{uuid.uuid4().hex}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "text": plan.echo + strip_stop(generation["generated_text"], plan.stops),
                "finish_reason": finish_reason(details),
                "logprobs": None,
            }
        ],
    }
    usage = answer_usage(details)
    if usage is not None:
        body["usage"] = usage
    return body


def completion_stream(
    events: Iterable[tuple[str, dict[str, Any] | None]],
    plan: CompletionPlan,
    *,
    model: str,
    include_usage: bool,
    outcome: StreamOutcome,
) -> Iterator[bytes]:
    """OpenAI ``text_completion`` SSE chunks for TGI stream events, ending in ``[DONE]``."""
    base = {"id": f"cmpl-{uuid.uuid4().hex}", "object": "text_completion", "created": int(time.time()), "model": model}

    def chunk(text: str, reason: str | None = None) -> bytes:
        return _sse({**base, "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": reason}]})

    try:
        if plan.echo:
            yield chunk(plan.echo)
        for item in _text_events(events, plan.stops, False, outcome):
            if isinstance(item, _Text):
                yield chunk(item.text)
                continue
            yield chunk("", item.reason)
            if include_usage and item.usage is not None:
                yield _sse({**base, "choices": [], "usage": item.usage})
            yield SSE_DONE
            return
    except ApiError as exc:
        outcome.error_code = exc.code
        yield _sse(exc.body())
        yield SSE_DONE


def generate_stream(
    events: Iterable[tuple[str, dict[str, Any] | None]], outcome: StreamOutcome, *, details: bool = True
) -> Iterator[bytes]:
    """TGI's own SSE events passed through; a broken stream ends with a TGI-style error event.

    ``details=False``: the engine was asked for details only for the token counts; the last event then carries
    ``"details": null``, as TGI sends it when none were asked for.
    """
    try:
        for data, event in events:
            if event is None:
                yield b"data:" + data.encode() + b"\n\n"
                continue
            if "error" in event:
                yield b"data:" + data.encode() + b"\n\n"
                outcome.error_code = str(event.get("error_type") or "model_error")
                return
            if event.get("generated_text") is not None:
                found = event.get("details") if isinstance(event.get("details"), dict) else None
                outcome.finish_reason = (found or {}).get("finish_reason")
                outcome.generated_tokens = (found or {}).get("generated_tokens")
                outcome.prompt_tokens = (found or {}).get("input_length")
                if not details and event.get("details") is not None:
                    data = json.dumps({**event, "details": None}, ensure_ascii=False, separators=(",", ":"))
                yield b"data:" + data.encode() + b"\n\n"
                return
            yield b"data:" + data.encode() + b"\n\n"
        raise incomplete_stream()
    except ApiError as exc:
        outcome.error_code = exc.code
        error = {"error": exc.message, "error_type": exc.code}
        yield b"data:" + json.dumps(error, ensure_ascii=False).encode() + b"\n\n"
