"""``PROMPT_FAMILY=server``: the engine renders the model's own chat template from OpenAI messages.

The proxy validates the request (``schemas.ChatCompletionRequest``), applies the deployment's token caps and
forwards it as OpenAI JSON to the endpoint's ``/invocations``:

- vLLM serves OpenAI chat natively there (``vllm/entrypoints/sagemaker/api_router.py`` tries the body as a chat
  request first); ``model`` must be its served name (``SM_VLLM_SERVED_MODEL_NAME`` = ``MODEL_ID``) or it answers 404.
- TGI 3.3.6 routes ``/invocations`` through an untagged enum of generate, chat and completions requests
  (``router/src/sagemaker.rs``, ``SagemakerRequest``; no ``MESSAGES_API_ENABLED`` needed). Its ``ChatRequest``
  (``router/src/lib.rs``) differs from OpenAI's: ``stop`` is a list only, ``response_format`` is TGI's
  ``GrammarType`` (``{"type": "json"|"json_schema", "value": ...}``), a message body is either ``content`` or
  ``tool_calls``, and content parts are ``text`` or ``image_url`` only. A body that fits none of the enum's
  variants is a 422 "did not match any variant", so the request is reshaped to fit.

Answers and stream chunks are passed through, normalised to OpenAI's published schema (``refusal`` present, tool
call ``arguments`` a string, TGI's ``stop_sequence``/``eos_token`` finish reasons as ``stop``, ``tool_calls`` when
the model called a tool, ``null`` fields the schema does not allow dropped) and reporting ``MODEL_ID`` as the
model. Extra fields the engine adds (``reasoning_content`` from vLLM's reasoning parser, ``system_fingerprint``)
stay. The stream always asks the engine for usage, so the token counts are known for every request; the usage
chunk reaches the client only when it asked for it (``stream_options.include_usage``).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from chatapi.backend import engine_error
from chatapi.errors import ApiError, bad_request, incomplete_stream
from chatapi.schemas import ChatCompletionRequest
from chatapi.settings import Settings

SSE_DONE = b"data: [DONE]\n\n"
DROPPED_FIELDS = ("user", "metadata", "store", "service_tier", "logit_bias", "max_completion_tokens")
# Null is allowed by OpenAI's schema only for these fields of a message / delta / choice.
NULLABLE = frozenset({"content", "refusal", "logprobs", "finish_reason"})
FINISH_REASONS = {"eos_token": "stop", "stop_sequence": "stop", "eos": "stop"}


@dataclass(frozen=True, slots=True)
class ServerPlan:
    payload: dict[str, Any]
    include_usage: bool


def plan_server_chat(request: ChatCompletionRequest, settings: Settings, max_tokens: int) -> ServerPlan:
    """The engine's chat request for ``request`` (already validated field by field)."""
    if request.stream_options is not None and not request.stream:
        raise bad_request("stream_options is only allowed when stream is true.", "stream_options")
    if request.top_logprobs is not None and not request.logprobs:
        raise bad_request("top_logprobs requires logprobs: true.", "top_logprobs")
    if request.tool_choice not in (None, "none") and not request.tools:
        raise bad_request("tool_choice is only allowed when tools are given.", "tool_choice")
    stops = [request.stop] if isinstance(request.stop, str) else list(request.stop or [])
    if any(not s for s in stops):
        raise bad_request("stop sequences must not be empty.", "stop")
    for i, message in enumerate(request.messages):
        if message.role == "assistant" and message.content is None and not message.tool_calls:
            raise bad_request("An assistant message needs content or tool_calls.", f"messages[{i}].content")
    body = request.model_dump(mode="json", exclude_unset=True, by_alias=True)
    for name in DROPPED_FIELDS:
        body.pop(name, None)
    body["model"] = settings.model_id
    body["max_tokens"] = max_tokens
    for message in body["messages"]:
        if message["role"] == "developer":  # as OpenAI does for non-reasoning models; most templates lack it
            message["role"] = "system"
    include_usage = bool(request.stream and request.stream_options and request.stream_options.include_usage)
    if request.stream:
        body["stream_options"] = {"include_usage": True}
    if stops:
        body["stop"] = stops
    if settings.engine == "tgi":
        _reshape_for_tgi(body)
    return ServerPlan(body, include_usage)


def _reshape_for_tgi(body: dict[str, Any]) -> None:
    body.pop("parallel_tool_calls", None)  # not in TGI's ChatRequest: it decides itself
    response_format = body.pop("response_format", None)
    if response_format is not None and response_format["type"] == "json_object":
        body["response_format"] = {"type": "json", "value": {"type": "object"}}
    elif response_format is not None and response_format["type"] == "json_schema":
        spec = response_format["json_schema"]
        value = {"name": spec["name"], "schema": spec.get("schema") or {"type": "object"}}
        body["response_format"] = {"type": "json_schema", "value": value}
    for message in body["messages"]:
        content = message.get("content")
        if content is None:
            message.pop("content", None)
        elif isinstance(content, list) and message["role"] != "user":
            message["content"] = "".join(p.get("text") or p.get("refusal") or "" for p in content)
        elif isinstance(content, list):
            for part in content:
                if part["type"] == "image_url":
                    part["image_url"] = {"url": part["image_url"]["url"]}
        if message.get("tool_calls"):
            message.pop("content", None)  # TGI's message body is content OR tool_calls
        message.pop("refusal", None)


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


def _finish(reason: Any, called_tools: bool) -> Any:
    reason = FINISH_REASONS.get(reason, reason) if isinstance(reason, str) else reason
    return "tool_calls" if called_tools and reason == "stop" else reason


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


def normalize_completion(answer: Any, model: str) -> dict[str, Any]:
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
        choice["finish_reason"] = _finish(choice.get("finish_reason") or "stop", bool(message.get("tool_calls")))
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


def server_chat_stream(
    events: Iterable[tuple[str, dict[str, Any] | None]],
    *,
    model: str,
    include_usage: bool,
    outcome: Any,
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
            if "error" in chunk or chunk.get("object") == "error":
                raise engine_error(chunk)
            usage = _usage(chunk.get("usage"))
            if usage is not None:
                outcome.prompt_tokens = usage["prompt_tokens"]
                outcome.generated_tokens = usage["completion_tokens"]
            body = {k: v for k, v in chunk.items() if v is not None and k != "usage"}
            body["id"] = chunk.get("id") or completion_id
            body["object"] = "chat.completion.chunk"
            body["model"] = model
            body.setdefault("created", int(time.time()))
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
                reason = _finish(choice.get("finish_reason"), choice["index"] in called_tools)
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
