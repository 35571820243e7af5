"""Translation between the HTTP API and TGI: request rules that need settings, payloads, responses, SSE."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from chatapi.backend import tgi_error
from chatapi.errors import ApiError, bad_request, incomplete_stream
from chatapi.prompts import FAMILIES, StopFilter, Turn, render, strip_stop
from chatapi.schemas import MAX_STOP_SEQUENCES, ChatCompletionRequest, GenerateRequest
from chatapi.settings import Settings

SSE_DONE = b"data: [DONE]\n\n"


def check_max_new_tokens(value: int, param: str, settings: Settings) -> None:
    if value > settings.max_new_tokens_cap:
        raise bad_request(
            f"{param}={value} exceeds this deployment's limit of {settings.max_new_tokens_cap} new tokens.", param
        )


def generate_payload(request: GenerateRequest, settings: Settings) -> dict[str, Any]:
    """The TGI payload for ``/generate``: the caller's parameters, checked against TGI's cross-field rules."""
    params = request.parameters.model_dump(exclude_none=True)
    best_of = params.get("best_of", 1)
    if best_of > 1:
        if not params.get("do_sample"):
            raise bad_request("best_of > 1 requires do_sample=true.", "parameters.best_of")
        if request.stream:
            raise bad_request("best_of > 1 is not supported when streaming.", "parameters.best_of")
        if "seed" in params:
            raise bad_request("seed cannot be set when best_of > 1.", "parameters.seed")
    if "max_new_tokens" in params:
        check_max_new_tokens(params["max_new_tokens"], "parameters.max_new_tokens", settings)
    else:
        params["max_new_tokens"] = settings.default_max_new_tokens
    if params.get("truncate", 0) > settings.max_input_tokens:
        raise bad_request(
            f"truncate must be at most the deployment's MAX_INPUT_TOKENS ({settings.max_input_tokens}).",
            "parameters.truncate",
        )
    if request.stream and params.get("decoder_input_details"):
        raise bad_request("decoder_input_details is not supported when streaming.", "parameters.decoder_input_details")
    payload: dict[str, Any] = {"inputs": request.inputs, "parameters": params}
    if request.stream:
        payload["stream"] = True
    return payload


@dataclass(frozen=True, slots=True)
class ChatPlan:
    payload: dict[str, Any]
    stops: tuple[str, ...]
    strip_leading_whitespace: bool
    prompt: str


def plan_chat(request: ChatCompletionRequest, settings: Settings) -> ChatPlan:
    family = FAMILIES[settings.prompt_family]
    systems: list[str] = []
    turns: list[Turn] = []
    for i, message in enumerate(request.messages):
        role = "system" if message.role == "developer" else message.role
        if role == "system":
            if turns:
                raise bad_request("system messages must come before the conversation.", f"messages[{i}].role")
            systems.append(message.text())
            continue
        expected = "user" if not turns or turns[-1].role == "assistant" else "assistant"
        if role != expected:
            raise bad_request(
                f"messages must alternate user and assistant turns starting with user; expected {expected}.",
                f"messages[{i}].role",
            )
        turns.append(Turn(role, message.text()))
    if not turns or turns[-1].role != "user":
        raise bad_request("The last message must be a user message.", "messages")
    system = "\n\n".join(systems) if systems else settings.system_prompt
    prompt = render(family, system, turns)

    if (
        request.max_tokens is not None
        and request.max_completion_tokens is not None
        and request.max_tokens != request.max_completion_tokens
    ):
        raise bad_request("max_tokens and max_completion_tokens disagree; send one.", "max_tokens")
    if request.max_completion_tokens is not None:
        max_new = request.max_completion_tokens
        check_max_new_tokens(max_new, "max_completion_tokens", settings)
    elif request.max_tokens is not None:
        max_new = request.max_tokens
        check_max_new_tokens(max_new, "max_tokens", settings)
    else:
        max_new = settings.default_max_new_tokens

    user_stops = [request.stop] if isinstance(request.stop, str) else list(request.stop or [])
    if any(not s for s in user_stops):
        raise bad_request("stop sequences must not be empty.", "stop")
    stops = tuple(dict.fromkeys([*family.stop, *user_stops]))
    if len(stops) > MAX_STOP_SEQUENCES:
        allowed = MAX_STOP_SEQUENCES - len(family.stop)
        raise bad_request(
            f"At most {allowed} stop sequences are allowed: the {settings.prompt_family!r} prompt format uses "
            f"{len(family.stop)} of TGI's {MAX_STOP_SEQUENCES}.",
            "stop",
        )
    if request.stream_options is not None and not request.stream:
        raise bad_request("stream_options is only allowed when stream is true.", "stream_options")

    temperature = 1.0 if request.temperature is None else request.temperature
    params: dict[str, Any] = {
        "max_new_tokens": max_new,
        "stop": list(stops),
        "details": True,
        "return_full_text": False,
    }
    if temperature == 0:
        params["do_sample"] = False
    else:
        params["do_sample"] = True
        params["temperature"] = temperature
        if request.top_p is not None and request.top_p < 1:
            params["top_p"] = request.top_p
    if request.seed is not None:
        params["seed"] = request.seed
    payload: dict[str, Any] = {"inputs": prompt, "parameters": params}
    if request.stream:
        payload["stream"] = True
    else:
        params["decoder_input_details"] = True  # prefill tokens give the prompt token count for `usage`
    return ChatPlan(payload, stops, family.strip_leading_whitespace, prompt)


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
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish_reason(details),
                "logprobs": None,
            }
        ],
    }
    usage = _usage(details, prompt_tokens=len((details or {}).get("prefill") or []) or None)
    if usage is not None:
        body["usage"] = usage
    return body, details or {}


def _usage(details: dict[str, Any] | None, prompt_tokens: int | None) -> dict[str, int] | None:
    completion = (details or {}).get("generated_tokens")
    if not isinstance(completion, int) or not isinstance(prompt_tokens, int):
        return None
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion, "total_tokens": prompt_tokens + completion}


def _sse(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


@dataclass(slots=True)
class StreamOutcome:
    finish_reason: str | None = None
    generated_tokens: int | None = None
    error_code: str | None = None
    text_chars: int = 0


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

    stop_filter = StopFilter(plan.stops, strip_leading_whitespace=plan.strip_leading_whitespace)
    yield chunk({"role": "assistant", "content": ""})
    try:
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
                    yield chunk({"content": text})
            if event.get("generated_text") is not None:
                details = event.get("details") if isinstance(event.get("details"), dict) else None
                rest = stop_filter.flush()
                if rest:
                    outcome.text_chars += len(rest)
                    yield chunk({"content": rest})
                outcome.finish_reason = finish_reason(details)
                outcome.generated_tokens = (details or {}).get("generated_tokens")
                yield chunk({}, outcome.finish_reason)
                usage = _usage(details, (details or {}).get("input_length"))
                if include_usage and usage is not None:
                    yield _sse({**base, "choices": [], "usage": usage})
                yield SSE_DONE
                return
        raise incomplete_stream()
    except ApiError as exc:
        outcome.error_code = exc.code
        yield _sse(exc.body())
        yield SSE_DONE


def generate_stream(events: Iterable[tuple[str, dict[str, Any] | None]], outcome: StreamOutcome) -> Iterator[bytes]:
    """TGI's own SSE events passed through; a broken stream ends with a TGI-style error event."""
    try:
        for data, event in events:
            yield b"data:" + data.encode() + b"\n\n"
            if event is None:
                continue
            if "error" in event:
                outcome.error_code = str(event.get("error_type") or "model_error")
                return
            if event.get("generated_text") is not None:
                details = event.get("details") if isinstance(event.get("details"), dict) else None
                outcome.finish_reason = (details or {}).get("finish_reason")
                outcome.generated_tokens = (details or {}).get("generated_tokens")
                return
        raise incomplete_stream()
    except ApiError as exc:
        outcome.error_code = exc.code
        error = {"error": exc.message, "error_type": exc.code}
        yield b"data:" + json.dumps(error, ensure_ascii=False).encode() + b"\n\n"
