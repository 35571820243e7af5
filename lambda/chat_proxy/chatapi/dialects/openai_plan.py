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
model. Extra fields the engine adds (``reasoning`` from vLLM's reasoning parser, ``reasoning_content`` in older
versions, ``system_fingerprint``) stay. The stream always asks the engine for usage, so the token counts are known
for every request; the usage chunk reaches the client only when it asked for it (``stream_options.include_usage``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chatapi.checks import check_chat_policy, check_completion_policy
from chatapi.errors import bad_request
from chatapi.schemas import ChatCompletionRequest, CompletionRequest
from chatapi.settings import Settings

# Accepted with no effect (chatapi.policy): never sent to the engine. functions/function_call arrive as tools.
DROPPED_FIELDS = (
    "user", "metadata", "store", "service_tier", "prompt_cache_key", "prompt_cache_retention",
    "prompt_cache_options", "safety_identifier", "verbosity", "prediction", "modalities", "audio", "functions",
    "function_call",
)  # fmt: skip


# TGI's ChatRequest (router/src/lib.rs, 3.3.6) has no max_completion_tokens: it goes as max_tokens.
TGI_DROPPED_FIELDS = ("max_completion_tokens", "logit_bias", "reasoning_effort", "n")


@dataclass(frozen=True, slots=True)
class ServerPlan:
    payload: dict[str, Any]
    include_usage: bool
    legacy_functions: bool = False  # answer tool calls as OpenAI's legacy function_call


def plan_server_chat(
    request: ChatCompletionRequest,
    settings: Settings,
    *,
    path: str,
    max_tokens_of: Callable[[ChatCompletionRequest, Settings], int | None],
) -> ServerPlan:
    """The engine's chat request for ``request`` (already validated field by field): ``path`` is the dialect's
    column of ``chatapi.policy``, ``max_tokens_of`` its limit to send (None: the engine decides)."""
    extras = check_chat_policy(request, path)
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
    body.update(extras)
    body["model"] = settings.model_id  # the served name, also for an alias
    max_tokens = max_tokens_of(request, settings)
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    for message in body["messages"]:
        if message["role"] == "developer":  # as OpenAI does for non-reasoning models; most templates lack it
            message["role"] = "system"
    include_usage = bool(request.stream and request.stream_options and request.stream_options.include_usage)
    if request.stream:
        body["stream_options"] = {"include_usage": True}
    if stops:
        body["stop"] = stops
    return ServerPlan(body, include_usage, request.legacy_functions)


def reshape_for_tgi(body: dict[str, Any]) -> None:
    """TGI's ``ChatRequest`` for an OpenAI chat body (see the module docstring)."""
    for name in TGI_DROPPED_FIELDS:  # refused above when they would matter (chatapi.policy)
        body.pop(name, None)
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


def plan_server_completion(request: CompletionRequest, settings: Settings) -> ServerPlan:
    """vLLM's completions request for ``request``: passed as the client sent it (prompt lists, token ids, ``n``,
    ``logprobs``, ``echo``, vLLM's own fields), with the served model name and, when streaming, usage asked for."""
    extras = check_completion_policy(request, "vllm")
    if request.stream_options is not None and not request.stream:
        raise bad_request("stream_options is only allowed when stream is true.", "stream_options")
    stops = [request.stop] if isinstance(request.stop, str) else list(request.stop or [])
    if any(not s for s in stops):  # vLLM answers the same 400 ("stop cannot contain an empty string")
        raise bad_request("stop sequences must not be empty.", "stop")
    body = request.model_dump(mode="json", exclude_unset=True)
    for name in ("user", "best_of"):  # no effect; best_of above 1 is refused by the schema
        body.pop(name, None)
    body.update(extras)
    body["model"] = settings.model_id
    if "max_tokens" not in body and settings.default_max_tokens is not None:
        body["max_tokens"] = settings.default_max_tokens
    include_usage = bool(request.stream and request.stream_options and request.stream_options.include_usage)
    if request.stream:
        body["stream_options"] = {"include_usage": True}
    return ServerPlan(body, include_usage)
