"""Translation between the HTTP API and TGI: request rules that need settings, payloads, responses, SSE."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from chatapi import policy
from chatapi.backend import tgi_error
from chatapi.errors import ApiError, bad_request, incomplete_stream
from chatapi.prompts import FAMILIES, StopFilter, Turn, render, strip_stop
from chatapi.schemas import (
    MAX_STOP_SEQUENCES,
    ChatCompletionRequest,
    CompletionRequest,
    GenerateRequest,
    message_text,
)
from chatapi.settings import Settings

SSE_DONE = b"data: [DONE]\n\n"


def check_max_new_tokens(value: int, param: str, settings: Settings) -> None:
    """TGI refuses more than MAX_TOTAL_TOKENS - MAX_INPUT_TOKENS; vLLM checks max_model_len - prompt itself."""
    if not settings.engine_bounds_tokens and value > settings.max_new_tokens_cap:
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


def _server_only(what: str, param: str, settings: Settings) -> ApiError:
    return ApiError(
        400,
        f"{what} needs the engine to render the model's chat template; this deployment renders prompts itself "
        f"(PROMPT_FAMILY={settings.prompt_family}). Deploy with prompt_family=server, or omit {param}.",
        param=param,
        code="unsupported_parameter",
    )


def chat_path(settings: Settings) -> str:
    """The column of ``chatapi.policy``'s table a chat request takes here."""
    if not settings.server_templates:
        return "proxy"
    return "vllm" if settings.engine == "vllm" else "tgi"


def _policy_refusal(param: str, text: str) -> ApiError:
    reason = text.partition(": ")[2] or text
    return ApiError(400, f"{param} is not supported here: {reason}.", param=param, code="unsupported_parameter")


def check_chat_policy(request: ChatCompletionRequest, settings: Settings) -> dict[str, Any]:
    """What ``chatapi.policy`` refuses on this deployment's path, as a 400 naming the field and the reason; returns
    the request's vLLM fields as the engine takes them."""
    path = chat_path(settings)
    refused = request.refused_openai_field()
    if refused is not None:
        name, reason = refused
        message = f"{name}: {reason}." if reason.startswith("send ") else f"{name} is not supported: {reason}."
        raise ApiError(400, message, param=name, code="unsupported_parameter")
    if path != "vllm":
        rules = policy.CHAT_FIELDS
        if request.n is not None and request.n > 1:
            raise _policy_refusal("n", getattr(rules["n"], path))
        if request.logit_bias:
            raise _policy_refusal("logit_bias", getattr(rules["logit_bias"], path))
        if request.reasoning_effort is not None:
            raise _policy_refusal("reasoning_effort", getattr(rules["reasoning_effort"], path))
    return policy.engine_extras(request.extras, policy.CHAT_FIELDS, path)


def check_proxy_family_request(request: ChatCompletionRequest, settings: Settings) -> None:
    """Features only the engine's chat template can render are refused, naming the field, in proxy-family mode."""
    check_chat_policy(request, settings)
    if request.tools:
        raise _server_only("Tool calling", "tools", settings)
    if request.tool_choice not in (None, "none", "auto"):
        raise _server_only("tool_choice", "tool_choice", settings)
    if request.response_format is not None and request.response_format.type != "text":
        raise _server_only("Structured output (response_format)", "response_format.type", settings)
    if request.logprobs:
        raise _server_only("logprobs", "logprobs", settings)
    if request.top_logprobs:
        raise _server_only("top_logprobs", "top_logprobs", settings)
    for name in ("frequency_penalty", "presence_penalty"):
        if getattr(request, name) not in (None, 0):
            raise _server_only(name, name, settings)
    for i, message in enumerate(request.messages):
        if message.role == "tool":
            raise _server_only("A tool message", f"messages[{i}].role", settings)
        if message.role == "assistant" and message.tool_calls:
            raise _server_only("An assistant message with tool_calls", f"messages[{i}].tool_calls", settings)
        if message.role == "assistant" and message.content is None:
            raise bad_request("An assistant message needs content.", f"messages[{i}].content")
        if isinstance(message.content, list):
            for j, part in enumerate(message.content):
                if part.type != "text":
                    raise _server_only(f"A {part.type} content part", f"messages[{i}].content[{j}].type", settings)


def resolve_max_tokens(max_tokens: int | None, max_completion_tokens: int | None, settings: Settings) -> int:
    """The new-token limit of an OpenAI request: checked against the deployment's cap, else its default."""
    if max_tokens is not None and max_completion_tokens is not None and max_tokens != max_completion_tokens:
        raise bad_request("max_tokens and max_completion_tokens disagree; send one.", "max_tokens")
    if max_completion_tokens is not None:
        check_max_new_tokens(max_completion_tokens, "max_completion_tokens", settings)
        return max_completion_tokens
    if max_tokens is not None:
        check_max_new_tokens(max_tokens, "max_tokens", settings)
        return max_tokens
    return settings.default_max_new_tokens


def check_completion_policy(request: CompletionRequest, settings: Settings) -> dict[str, Any]:
    """``chatapi.policy`` for ``/v1/completions``: the vLLM fields as the engine takes them; on TGI a 400 naming
    what its ``/generate`` dialect cannot do."""
    path = "vllm" if settings.engine == "vllm" else "tgi"
    rules = policy.COMPLETION_FIELDS
    if path == "tgi":
        if request.prompt_text() is None:
            raise _policy_refusal("prompt", rules["prompt"].tgi)
        if request.n is not None and request.n > 1:
            raise _policy_refusal("n", rules["n"].tgi)
        if request.logprobs is not None:
            raise _policy_refusal("logprobs", rules["logprobs"].tgi)
        if request.logit_bias:
            raise _policy_refusal("logit_bias", rules["logit_bias"].tgi)
        if request.suffix:
            raise _policy_refusal("suffix", rules["suffix"].tgi)
    return policy.engine_extras(request.extras, rules, path)


def plan_chat(request: ChatCompletionRequest, settings: Settings) -> ChatPlan:
    check_proxy_family_request(request, settings)
    family = FAMILIES[settings.prompt_family]
    systems: list[str] = []
    turns: list[Turn] = []
    for i, message in enumerate(request.messages):
        role = "system" if message.role == "developer" else message.role
        if role == "system":
            if turns:
                raise bad_request("system messages must come before the conversation.", f"messages[{i}].role")
            systems.append(message_text(message))
            continue
        expected = "user" if not turns or turns[-1].role == "assistant" else "assistant"
        if role != expected:
            raise bad_request(
                f"messages must alternate user and assistant turns starting with user; expected {expected}.",
                f"messages[{i}].role",
            )
        turns.append(Turn(role, message_text(message)))
    if not turns or turns[-1].role != "user":
        raise bad_request("The last message must be a user message.", "messages")
    system = "\n\n".join(systems) if systems else settings.system_prompt
    prompt = render(family, system, turns)

    max_new = resolve_max_tokens(request.max_tokens, request.max_completion_tokens, settings)

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

    params: dict[str, Any] = {"stop": list(stops), "return_full_text": False}
    payload = _tgi_payload(prompt, params, max_new, request.temperature, request.top_p, request.seed, request.stream)
    return ChatPlan(payload, stops, family.strip_leading_whitespace, prompt)


def _tgi_payload(
    prompt: str,
    params: dict[str, Any],
    max_new: int,
    temperature: float | None,
    top_p: float | None,
    seed: int | None,
    stream: bool | None,
) -> dict[str, Any]:
    """TGI's ``{"inputs", "parameters"}`` for an OpenAI request's sampling settings (temperature 0 is greedy),
    always asking for the token counts (``details``: the stream's last event has the prompt's as ``input_length``;
    every generation is streamed, see ``assemble``)."""
    params = {"max_new_tokens": max_new, **params, "details": True}
    if temperature == 0:
        params["do_sample"] = False
    else:
        # OpenAI samples by default: TGI then samples at temperature 1; vLLM (engines.py) applies the model's
        # generation_config, since no temperature is named.
        params["do_sample"] = True
        if temperature is not None:
            params["temperature"] = temperature
        if top_p is not None and top_p < 1:
            params["top_p"] = top_p
    if seed is not None:
        params["seed"] = seed
    payload: dict[str, Any] = {"inputs": prompt, "parameters": params}
    if stream:
        payload["stream"] = True
    return payload


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


@dataclass(slots=True)
class StreamOutcome:
    """What a model call produced, streamed or not: the one place the token counts of every route are read from."""

    finish_reason: str | None = None
    generated_tokens: int | None = None
    error_code: str | None = None
    text_chars: int = 0
    prompt_tokens: int | None = None

    def record_usage(self, usage: dict[str, Any] | None) -> None:
        if usage is not None:
            self.prompt_tokens = usage.get("prompt_tokens")
            self.generated_tokens = usage.get("completion_tokens")


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


@dataclass(frozen=True, slots=True)
class CompletionPlan:
    payload: dict[str, Any]
    stops: tuple[str, ...]
    echo: str  # the prompt when ``echo`` is set: prepended to the answer


def plan_completion(request: CompletionRequest, settings: Settings) -> CompletionPlan:
    """TGI's payload for an OpenAI text completions request."""
    check_completion_policy(request, settings)
    if request.stream_options is not None and not request.stream:
        raise bad_request("stream_options is only allowed when stream is true.", "stream_options")
    for name in ("frequency_penalty", "presence_penalty"):
        if getattr(request, name) not in (None, 0):
            raise ApiError(
                400, f"{name} is not supported on /v1/completions; omit it or send 0.", param=name,
                code="unsupported_parameter",
            )  # fmt: skip
    max_new = resolve_max_tokens(request.max_tokens, None, settings)
    stops = [request.stop] if isinstance(request.stop, str) else list(request.stop or [])
    if any(not s for s in stops):
        raise bad_request("stop sequences must not be empty.", "stop")
    prompt = request.prompt_text()
    assert prompt is not None  # check_completion_policy
    params: dict[str, Any] = {"stop": stops} if stops else {}
    payload = _tgi_payload(prompt, params, max_new, request.temperature, request.top_p, request.seed, request.stream)
    return CompletionPlan(payload, tuple(stops), prompt if request.echo else "")


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
