"""OpenAI's Responses API (``POST /v1/responses``) served by translating to chat completions.

Why a translation: the engine is reached only through SageMaker's ``/invocations``, and vLLM's SageMaker router
accepts only chat-completions and completions bodies there (vLLM 0.29 ``vllm/entrypoints/serve/sagemaker/
api_router.py`` tries the body against ``get_generate_invocation_types`` of ``vllm/entrypoints/generate/
factories.py``: ``ChatCompletionRequest`` then ``CompletionRequest``; a Responses body is "Cannot find suitable
handler"). TGI's ``/invocations`` has no Responses variant either. The only other way into vLLM's own
``/v1/responses`` is a custom invocation handler in the container (``CUSTOM_FASTAPI_INVOCATION_HANDLER``,
model_hosting_container_standards ``sagemaker/handler_resolver.py``), and vLLM keeps stored responses in the
memory of one server process (``VLLM_ENABLE_RESPONSES_API_STORE``, ``responses/serving.py``), which several
instances behind one endpoint cannot share. So a Responses request becomes the equivalent chat request
(``to_chat``), runs through the chat route itself (prompt families, engines, limits, metering, errors: all as
for chat), and the chat answer or chunk stream becomes a ``response`` object or the typed Responses event stream.

What is refused, with a 400 naming the field: OpenAI's hosted tools (``web_search``, ``file_search``, ...),
``background``, ``conversation``, stored ``prompt`` templates, ``include`` values, ``truncation: auto``,
``reasoning.effort``/``summary``, ``top_logprobs``, ``max_tool_calls``, input files and ``item_reference``
items. ``store`` is accepted; it takes effect only where the deployment keeps responses (``responses_store``), as
vLLM does with its own store switched off (``responses/serving.py``: "we opted to implicitly disable store").
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, ValidationError

from chatapi.errors import ApiError, bad_request
from chatapi.schemas import (
    FUNCTION_NAME,
    ChatCompletionRequest,
    StrictBool,
    StrictStr,
    _Model,
    _tag,
)

BUILT_IN_TOOLS_REASON = (
    "is one of OpenAI's hosted tools, which this API does not have (it serves an open model on SageMaker); "
    "define a function tool and run it in your code instead"
)


class InputText(_Model):
    type: Literal["input_text"]
    text: StrictStr


class InputImage(_Model):
    type: Literal["input_image"]
    image_url: Annotated[str, Field(strict=True, min_length=1)] | None = None
    file_id: StrictStr | None = None
    detail: Literal["auto", "low", "high"] | None = None


class InputFile(_Model):
    type: Literal["input_file"]
    file_id: StrictStr | None = None
    file_data: StrictStr | None = None
    file_url: StrictStr | None = None
    filename: StrictStr | None = None


class OutputText(_Model):
    type: Literal["output_text"]
    text: StrictStr
    annotations: list[Any] | None = None
    logprobs: list[Any] | None = None


class Refusal(_Model):
    type: Literal["refusal"]
    refusal: StrictStr


ContentPart = Annotated[
    Annotated[InputText, Tag("type=input_text")]
    | Annotated[InputImage, Tag("type=input_image")]
    | Annotated[InputFile, Tag("type=input_file")]
    | Annotated[OutputText, Tag("type=output_text")]
    | Annotated[Refusal, Tag("type=refusal")],
    _tag("type"),
]


class MessageItem(_Model):
    """A message: ``EasyInputMessage`` (no ``type``), ``InputMessage`` or a previous ``OutputMessage``."""

    type: Literal["message"] | None = None
    role: Literal["user", "assistant", "system", "developer"]
    content: StrictStr | Annotated[list[ContentPart], Field(min_length=1)]
    id: StrictStr | None = None
    status: Literal["in_progress", "completed", "incomplete"] | None = None


class FunctionCallItem(_Model):
    type: Literal["function_call"]
    call_id: Annotated[str, Field(strict=True, min_length=1)]
    name: FUNCTION_NAME
    arguments: StrictStr
    id: StrictStr | None = None
    status: Literal["in_progress", "completed", "incomplete"] | None = None


class FunctionCallOutputItem(_Model):
    type: Literal["function_call_output"]
    call_id: Annotated[str, Field(strict=True, min_length=1)]
    output: StrictStr | Annotated[list[ContentPart], Field(min_length=1)]
    id: StrictStr | None = None
    status: Literal["in_progress", "completed", "incomplete"] | None = None


class ReasoningItemIn(_Model):
    """A reasoning item of an earlier answer sent back by the client: accepted, not shown to the model again
    (chat templates drop earlier reasoning too)."""

    type: Literal["reasoning"]
    id: StrictStr | None = None
    summary: list[Any] = Field(default_factory=list)
    content: list[Any] | None = None
    encrypted_content: StrictStr | None = None
    status: Literal["in_progress", "completed", "incomplete"] | None = None


class ItemReference(_Model):
    type: Literal["item_reference"]
    id: StrictStr


def _item_tag(value: Any) -> str | None:
    raw = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    if raw is None and isinstance(value, dict) and "role" in value:
        return "type=message"
    return f"type={raw}" if isinstance(raw, str) else None


_item_tag.__name__ = "type"
_item_discriminator = Discriminator(_item_tag)

InputItem = Annotated[
    Annotated[MessageItem, Tag("type=message")]
    | Annotated[FunctionCallItem, Tag("type=function_call")]
    | Annotated[FunctionCallOutputItem, Tag("type=function_call_output")]
    | Annotated[ReasoningItemIn, Tag("type=reasoning")]
    | Annotated[ItemReference, Tag("type=item_reference")],
    _item_discriminator,
]


class FunctionTool(_Model):
    type: Literal["function"]
    name: FUNCTION_NAME
    description: StrictStr | None = None
    parameters: dict[str, Any] | None = None
    strict: StrictBool | None = None


class HostedTool(_Model):
    """Any other tool type (``web_search``, ``file_search``, ``mcp``, ...): parsed only to be refused by name."""

    model_config = {"extra": "allow"}
    type: StrictStr


class NamedFunctionChoice(_Model):
    type: Literal["function"]
    name: FUNCTION_NAME


class TextFormatText(_Model):
    type: Literal["text"]


class TextFormatJsonObject(_Model):
    type: Literal["json_object"]


class TextFormatJsonSchema(_Model):
    type: Literal["json_schema"]
    name: FUNCTION_NAME
    schema_: Annotated[dict[str, Any], Field(alias="schema")]
    description: StrictStr | None = None
    strict: StrictBool | None = None

    model_config = {"extra": "forbid", "populate_by_name": True, "serialize_by_alias": True}


TextFormat = Annotated[
    Annotated[TextFormatText, Tag("type=text")]
    | Annotated[TextFormatJsonObject, Tag("type=json_object")]
    | Annotated[TextFormatJsonSchema, Tag("type=json_schema")],
    _tag("type"),
]


class TextConfig(_Model):
    format: TextFormat | None = None
    verbosity: Literal["low", "medium", "high"] | None = None  # no effect: open models have no such switch


class ReasoningConfig(_Model):
    effort: StrictStr | None = None
    summary: StrictStr | None = None
    generate_summary: StrictStr | None = None


class StreamOptions(_Model):
    include_obfuscation: StrictBool | None = None


def _by_python_type(value: Any) -> str:
    return "str" if isinstance(value, str) else "list"


def _tool_kind(value: Any) -> str:
    raw = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return "type=function" if raw == "function" else "type=hosted"


# One branch per JSON type, so an error is reported against the branch the value took (not "should be a string"
# for a list).
Input = Annotated[
    Annotated[Annotated[str, Field(strict=True, min_length=1)], Tag("str")]
    | Annotated[Annotated[list[InputItem], Field(min_length=1)], Tag("list")],
    Discriminator(_by_python_type),
]
AnyTool = Annotated[
    Annotated[FunctionTool, Tag("type=function")] | Annotated[HostedTool, Tag("type=hosted")],
    Discriminator(_tool_kind),
]


class ResponsesRequest(_Model):
    """``CreateResponse`` of OpenAI's spec, as far as an open model on SageMaker can honour it."""

    input: Input
    model: StrictStr | None = None
    instructions: StrictStr | None = None
    tools: Annotated[list[AnyTool], Field(max_length=128)] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedFunctionChoice | dict[str, Any] | None = None
    parallel_tool_calls: StrictBool | None = None
    text: TextConfig | None = None
    max_output_tokens: Annotated[int, Field(strict=True, ge=1)] | None = None
    temperature: Annotated[float, Field(strict=True, ge=0, le=2, allow_inf_nan=False)] | None = None
    top_p: Annotated[float, Field(strict=True, gt=0, le=1, allow_inf_nan=False)] | None = None
    metadata: Annotated[dict[str, Annotated[str, Field(strict=True, max_length=512)]], Field(max_length=16)] | None = (
        None
    )
    user: StrictStr | None = None
    safety_identifier: StrictStr | None = None
    prompt_cache_key: StrictStr | None = None
    service_tier: StrictStr | None = None
    stream: StrictBool | None = None
    stream_options: StreamOptions | None = None
    store: StrictBool | None = None
    previous_response_id: Annotated[str, Field(strict=True, min_length=1)] | None = None
    truncation: Literal["auto", "disabled"] | None = None
    reasoning: ReasoningConfig | None = None
    # Accepted only as "not used" (null, false, empty): anything else is refused with the reason.
    background: StrictBool | None = None
    conversation: Any = None
    include: list[StrictStr] | None = None
    prompt: Any = None
    top_logprobs: Annotated[int, Field(strict=True, ge=0, le=20)] | None = None
    max_tool_calls: Annotated[int, Field(strict=True, ge=1)] | None = None


def _refuse(message: str, param: str) -> ApiError:
    return ApiError(400, message, param=param, code="unsupported_parameter")


def check_supported(request: ResponsesRequest) -> None:
    """The fields this API cannot honour: a 400 naming the field and why (never a silent change of meaning)."""
    if request.background:
        raise _refuse(
            "background responses are not supported: answers are produced while the request is open "
            "(use stream: true for long answers).",
            "background",
        )
    if request.conversation is not None:
        raise _refuse(
            "conversation objects are not supported; send the earlier items in input, or previous_response_id "
            "where this deployment keeps responses.",
            "conversation",
        )
    if request.prompt is not None:
        raise _refuse("stored prompt templates are an OpenAI platform feature; send instructions instead.", "prompt")
    if request.include:
        raise _refuse(
            f"include value {request.include[0]!r} cannot be honoured: the engine reports no logprobs, hosted-tool "
            "results or encrypted reasoning through this API; omit include.",
            "include",
        )
    if request.truncation == "auto":
        raise _refuse(
            "truncation 'auto' is not supported: an input longer than the model's context is refused, never cut.",
            "truncation",
        )
    if request.reasoning is not None:
        for name in ("effort", "summary", "generate_summary"):
            if getattr(request.reasoning, name) is not None:
                raise _refuse(
                    f"reasoning.{name} is not supported on /v1/responses; reasoning models report their reasoning "
                    "as reasoning items without it.",
                    f"reasoning.{name}",
                )
    if request.top_logprobs:
        raise _refuse("top_logprobs is not supported on /v1/responses; omit it or send 0.", "top_logprobs")
    if request.max_tool_calls is not None:
        raise _refuse("max_tool_calls applies to OpenAI's hosted tools, which this API lacks.", "max_tool_calls")
    for i, tool in enumerate(request.tools or []):
        if isinstance(tool, HostedTool):
            raise _refuse(f"Tool type {tool.type!r} {BUILT_IN_TOOLS_REASON}.", f"tools[{i}].type")
    choice = request.tool_choice
    if isinstance(choice, dict):
        kind = choice.get("type")
        raise _refuse(
            f"tool_choice type {kind!r} is not supported: use 'none', 'auto', 'required' or "
            '{"type": "function", "name": ...}.',
            "tool_choice",
        )
    if isinstance(request.input, list):
        for i, item in enumerate(request.input):
            if isinstance(item, ItemReference):
                raise _refuse("item_reference items are not supported; send the item itself.", f"input[{i}].type")
            parts = item.content if isinstance(item, MessageItem) else None
            if isinstance(item, FunctionCallOutputItem):
                parts = item.output
            for j, part in enumerate(parts if isinstance(parts, list) else []):
                where = "content" if isinstance(item, MessageItem) else "output"
                if isinstance(part, InputFile):
                    raise _refuse(
                        "input_file parts are not supported: send the file's text as input_text.",
                        f"input[{i}].{where}[{j}].type",
                    )
                if isinstance(part, InputImage) and part.image_url is None:
                    raise _refuse(
                        "input_image needs image_url (an https or data: URL); file_id refers to OpenAI's file storage.",
                        f"input[{i}].{where}[{j}].image_url",
                    )


@dataclass(slots=True)
class ChatTranslation:
    """The chat request of a Responses request, and where each chat message came from (for error params)."""

    chat: dict[str, Any]
    origins: list[str] = field(default_factory=list)


def _text_of(parts: str | list[Any]) -> str:
    if isinstance(parts, str):
        return parts
    return "".join(
        p.text if isinstance(p, InputText | OutputText) else p.refusal if isinstance(p, Refusal) else "" for p in parts
    )


def _user_content(parts: str | list[Any]) -> str | list[dict[str, Any]]:
    if isinstance(parts, str):
        return parts
    out: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, InputImage):
            image: dict[str, Any] = {"url": part.image_url}
            if part.detail is not None:
                image["detail"] = part.detail
            out.append({"type": "image_url", "image_url": image})
        else:
            out.append({"type": "text", "text": _text_of([part])})
    return out


def input_items(request: ResponsesRequest) -> list[dict[str, Any]]:
    """The request's input as a list of items (a string is one user message), in JSON form (what is stored)."""
    if isinstance(request.input, str):
        return [{"type": "message", "role": "user", "content": request.input}]
    return [item.model_dump(mode="json", exclude_none=True, by_alias=True) for item in request.input]


def parse_items(items: list[dict[str, Any]]) -> list[Any]:
    """Stored items back into models (they were validated when first sent)."""
    return ResponsesRequest.model_validate({"input": items}).input  # type: ignore[return-value]


def to_chat(request: ResponsesRequest, history: list[Any], max_output_tokens: int | None) -> ChatTranslation:
    """The chat-completions request equivalent to ``request`` after ``history`` (earlier items, already parsed)."""
    out = ChatTranslation({})
    messages: list[dict[str, Any]] = []
    if request.instructions is not None:
        messages.append({"role": "system", "content": request.instructions})
        out.origins.append("instructions")
    items = list(history) + (
        [MessageItem(role="user", content=request.input)] if isinstance(request.input, str) else list(request.input)
    )
    offset = len(history)
    for index, item in enumerate(items):
        origin = f"input[{index - offset}]" if index >= offset else "previous_response_id"
        if isinstance(item, ReasoningItemIn):
            continue
        if isinstance(item, MessageItem):
            if item.role == "user":
                messages.append({"role": "user", "content": _user_content(item.content)})
            else:
                messages.append({"role": item.role, "content": _text_of(item.content)})
            out.origins.append(origin)
        elif isinstance(item, FunctionCallItem):
            call = {
                "id": item.call_id,
                "type": "function",
                "function": {"name": item.name, "arguments": item.arguments},
            }
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant":
                last.setdefault("tool_calls", []).append(call)
                if last.get("content") == "":
                    last["content"] = None
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
                out.origins.append(origin)
        elif isinstance(item, FunctionCallOutputItem):
            messages.append({"role": "tool", "tool_call_id": item.call_id, "content": _text_of(item.output)})
            out.origins.append(origin)
    chat: dict[str, Any] = {"messages": messages}
    if request.model is not None:
        chat["model"] = request.model
    if request.tools:
        chat["tools"] = [
            {"type": "function", "function": t.model_dump(exclude_none=True, exclude={"type"})}
            for t in request.tools
            if isinstance(t, FunctionTool)
        ]
    choice = request.tool_choice
    if isinstance(choice, NamedFunctionChoice):
        chat["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
    elif isinstance(choice, str):
        chat["tool_choice"] = choice
    if request.parallel_tool_calls is not None and request.tools:
        chat["parallel_tool_calls"] = request.parallel_tool_calls
    fmt = request.text.format if request.text is not None else None
    if isinstance(fmt, TextFormatJsonObject):
        chat["response_format"] = {"type": "json_object"}
    elif isinstance(fmt, TextFormatJsonSchema):
        spec = fmt.model_dump(exclude_none=True, by_alias=True, exclude={"type"})
        chat["response_format"] = {"type": "json_schema", "json_schema": spec}
    if max_output_tokens is not None:
        chat["max_completion_tokens"] = max_output_tokens
    for name in ("temperature", "top_p"):
        if getattr(request, name) is not None:
            chat[name] = getattr(request, name)
    if request.stream:
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    out.chat = chat
    return out


def chat_request(translation: ChatTranslation) -> ChatCompletionRequest:
    """Validate the translated request with the chat route's own model (its field rules apply unchanged)."""
    try:
        return ChatCompletionRequest.model_validate(translation.chat)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(p) for p in first.get("loc", ())]
        raise bad_request(f"Invalid request: {first.get('msg')} ({'.'.join(loc)} of the chat translation).") from None


# Chat route params that have a different name here.
PARAM_NAMES = {
    "max_completion_tokens": "max_output_tokens",
    "max_tokens": "max_output_tokens",
    "response_format": "text.format",
    "response_format.type": "text.format.type",
    "stream_options": "stream",
}


def rename_param(error: ApiError, origins: list[str]) -> ApiError:
    """A chat-route error about ``messages[i]...`` or a chat field, named as the Responses field it came from."""
    param = error.param
    if param is None:
        return error
    if param.startswith("messages[") and "]" in param:
        index_text, _, rest = param[len("messages[") :].partition("]")
        if index_text.isdigit() and int(index_text) < len(origins):
            origin = origins[int(index_text)]
            # A message's content and its parts keep their names and indexes in the Responses item.
            param = origin if origin in ("instructions", "previous_response_id") else origin + rest
    elif param == "messages":
        param = "input"
    else:
        param = PARAM_NAMES.get(param, param)
    message = error.message
    for old, new in PARAM_NAMES.items():
        message = message.replace(f"{old}=", f"{new}=")
    return ApiError(error.status, message, type=error.type, param=param, code=error.code, headers=error.headers)


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def usage_of(chat_usage: Any) -> dict[str, Any] | None:
    """``ResponseUsage`` from a chat ``usage``; cached and reasoning counts where the engine reports them."""
    if not isinstance(chat_usage, dict):
        return None
    prompt, completion = chat_usage.get("prompt_tokens"), chat_usage.get("completion_tokens")
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    cached = (chat_usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    reasoning = (chat_usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": prompt + completion,
    }


def _reasoning_of(message: dict[str, Any]) -> str | None:
    # vLLM 0.29 reports ``reasoning`` (docs/engine-tests.md, checked on the real engine); older versions said
    # ``reasoning_content``: both are read.
    for key in ("reasoning_content", "reasoning"):
        value = message.get(key)
        if isinstance(value, str) and value:
            return value
    return None


@dataclass(slots=True)
class ResponseShell:
    """What every ``response`` object of one request carries besides its output, status and usage."""

    request: ResponsesRequest
    model: str
    max_output_tokens: int | None
    stored: bool
    id: str = field(default_factory=lambda: _new_id("resp"))
    created_at: int = field(default_factory=lambda: int(time.time()))

    def body(
        self,
        *,
        status: str,
        output: list[dict[str, Any]],
        usage: dict[str, Any] | None = None,
        incomplete: str | None = None,
        error: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        request = self.request
        tools = [t.model_dump(mode="json", exclude_none=True) for t in request.tools or []]
        for tool in tools:
            tool.setdefault("strict", None)
            tool.setdefault("parameters", None)
        choice = request.tool_choice
        fmt = request.text.format if request.text is not None and request.text.format is not None else None
        body: dict[str, Any] = {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "completed_at": int(time.time()) if status == "completed" else None,
            "background": False,
            "error": error,
            "incomplete_details": {"reason": incomplete} if incomplete else None,
            "instructions": request.instructions,
            "max_output_tokens": self.max_output_tokens,
            "model": self.model,
            "output": output,
            "parallel_tool_calls": True if request.parallel_tool_calls is None else request.parallel_tool_calls,
            "previous_response_id": request.previous_response_id,
            "reasoning": {"effort": None, "summary": None},
            "service_tier": "default",
            "store": self.stored,
            "temperature": 1.0 if request.temperature is None else request.temperature,
            "text": {
                "format": fmt.model_dump(mode="json", by_alias=True, exclude_none=True) if fmt else {"type": "text"}
            },
            "tool_choice": choice.model_dump(mode="json")
            if isinstance(choice, NamedFunctionChoice)
            else choice or "auto",
            "tools": tools,
            "top_p": 1.0 if request.top_p is None else request.top_p,
            "truncation": "disabled",
            "metadata": dict(request.metadata or {}),
        }
        if usage is not None:  # an object in the spec, never null: absent until known
            body["usage"] = usage
        if request.user is not None:  # a string in the spec, never null
            body["user"] = request.user
        return body


def _message_item(item_id: str, text: str, status: str) -> dict[str, Any]:
    part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    return {"type": "message", "id": item_id, "role": "assistant", "status": status, "content": [part]}


def _reasoning_item(item_id: str, text: str, status: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "reasoning",
        "id": item_id,
        "summary": [],
        "content": [{"type": "reasoning_text", "text": text}],
    }
    if status is not None:
        item["status"] = status
    return item


def _call_item(item_id: str, call_id: str, name: str, arguments: str, status: str) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": item_id,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }


INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def from_chat_completion(shell: ResponseShell, completion: dict[str, Any]) -> dict[str, Any]:
    """The ``response`` object for a non-streamed chat answer."""
    choice = completion["choices"][0]
    message = choice.get("message") or {}
    incomplete = INCOMPLETE.get(choice.get("finish_reason"))
    status = "incomplete" if incomplete else "completed"
    output: list[dict[str, Any]] = []
    reasoning = _reasoning_of(message)
    if reasoning is not None:
        output.append(_reasoning_item(_new_id("rs"), reasoning, status))
    calls = message.get("tool_calls") or []
    text = message.get("content")
    if (isinstance(text, str) and text) or not calls:
        output.append(_message_item(_new_id("msg"), text if isinstance(text, str) else "", status))
    for call in calls:
        function = call.get("function") or {}
        output.append(
            _call_item(
                _new_id("fc"),
                call.get("id") or _new_id("call"),
                str(function.get("name", "")),
                str(function.get("arguments", "")),
                "completed",
            )
        )
    return shell.body(status=status, output=output, usage=usage_of(completion.get("usage")), incomplete=incomplete)


def _event(kind: str, sequence: int, **fields: Any) -> bytes:
    data = json.dumps({"type": kind, **fields, "sequence_number": sequence}, ensure_ascii=False, separators=(",", ":"))
    return f"event: {kind}\ndata: {data}\n\n".encode()


def _chunk_data(chunk: bytes) -> list[dict[str, Any] | None]:
    """The JSON objects of the chat route's SSE bytes (``None`` for ``[DONE]``)."""
    out: list[dict[str, Any] | None] = []
    for line in chunk.decode("utf-8").splitlines():
        if not line.startswith("data:"):
            continue
        data = line[len("data:") :].strip()
        out.append(None if data == "[DONE]" else json.loads(data))
    return out


_ERROR_CODES = {"rate_limit_exceeded", "server_error"}


class _Stream:
    """Turns the chat route's chunk stream into the Responses event sequence (one instance per request)."""

    def __init__(self, shell: ResponseShell, on_final: Callable[[dict[str, Any]], None]) -> None:
        self.shell = shell
        self.on_final = on_final
        self.sequence = 0
        self.output: list[dict[str, Any]] = []
        self.open: dict[str, Any] | None = None  # the output item being streamed
        self.calls: dict[int, dict[str, Any]] = {}  # chat tool-call index -> its output item
        self.finish: str | None = None
        self.usage: dict[str, Any] | None = None

    def emit(self, kind: str, **fields: Any) -> bytes:
        data = _event(kind, self.sequence, **fields)
        self.sequence += 1
        return data

    def start(self) -> Iterator[bytes]:
        shell = self.shell.body(status="in_progress", output=[])
        yield self.emit("response.created", response=shell)
        yield self.emit("response.in_progress", response=shell)

    def _open(self, item: dict[str, Any]) -> Iterator[bytes]:
        yield from self.close()
        self.output.append(item)
        self.open = item
        yield self.emit("response.output_item.added", output_index=len(self.output) - 1, item=dict(item))

    def _index(self) -> int:
        return len(self.output) - 1

    def text(self, delta: str) -> Iterator[bytes]:
        if self.open is None or self.open["type"] != "message":
            yield from self._empty_message()
        assert self.open is not None
        self.open["content"][0]["text"] += delta
        yield self.emit(
            "response.output_text.delta",
            item_id=self.open["id"],
            output_index=self._index(),
            content_index=0,
            delta=delta,
            logprobs=[],
        )

    def reasoning(self, delta: str) -> Iterator[bytes]:
        if self.open is None or self.open["type"] != "reasoning":
            yield from self._open(
                {"type": "reasoning", "id": _new_id("rs"), "summary": [], "content": [], "status": "in_progress"}
            )
            assert self.open is not None
            self.open["content"].append({"type": "reasoning_text", "text": ""})
        assert self.open is not None
        self.open["content"][0]["text"] += delta
        yield self.emit(
            "response.reasoning_text.delta",
            item_id=self.open["id"],
            output_index=self._index(),
            content_index=0,
            delta=delta,
        )

    def tool_call(self, call: dict[str, Any]) -> Iterator[bytes]:
        index = call.get("index", 0)
        function = call.get("function") or {}
        item = self.calls.get(index)
        if item is None:
            item = {
                "type": "function_call",
                "id": _new_id("fc"),
                "call_id": call.get("id") or _new_id("call"),
                "name": function.get("name") or "",
                "arguments": "",
                "status": "in_progress",
            }
            self.calls[index] = item
            yield from self._open(item)
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            item["arguments"] += arguments
            yield self.emit(
                "response.function_call_arguments.delta",
                item_id=item["id"],
                output_index=self.output.index(item),
                delta=arguments,
            )

    def close(self) -> Iterator[bytes]:
        item = self.open
        if item is None:
            return
        self.open = None
        index = self.output.index(item)
        status = "incomplete" if self.finish in INCOMPLETE else "completed"
        if item["type"] == "message":
            part = item["content"][0]
            yield self.emit(
                "response.output_text.done",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                text=part["text"],
                logprobs=[],
            )
            yield self.emit(
                "response.content_part.done", item_id=item["id"], output_index=index, content_index=0, part=dict(part)
            )
        elif item["type"] == "reasoning":
            yield self.emit(
                "response.reasoning_text.done",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                text=item["content"][0]["text"],
            )
        else:
            yield self.emit(
                "response.function_call_arguments.done",
                item_id=item["id"],
                output_index=index,
                name=item["name"],
                arguments=item["arguments"],
            )
            status = "completed"
        item["status"] = status
        yield self.emit("response.output_item.done", output_index=index, item=json.loads(json.dumps(item)))

    def chunk(self, chunk: dict[str, Any]) -> Iterator[bytes]:
        if chunk.get("usage"):
            self.usage = usage_of(chunk["usage"])
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            reasoning = _reasoning_of(delta)
            if reasoning:
                yield from self.reasoning(reasoning)
            content = delta.get("content")
            if isinstance(content, str) and content:
                yield from self.text(content)
            for call in delta.get("tool_calls") or []:
                yield from self.tool_call(call)
            if choice.get("finish_reason"):
                self.finish = choice["finish_reason"]

    def end(self) -> Iterator[bytes]:
        """Close what is open and send ``response.completed`` (or ``.incomplete`` when cut by the token limit)."""
        if not self.output:
            yield from self._empty_message()
        yield from self.close()
        incomplete = INCOMPLETE.get(self.finish or "")
        status = "incomplete" if incomplete else "completed"
        final = self.shell.body(status=status, output=self.output, usage=self.usage, incomplete=incomplete)
        self.on_final(final)  # stored before the last event leaves: work after a Lambda's last byte may freeze
        yield self.emit(f"response.{status}", response=final)

    def _empty_message(self) -> Iterator[bytes]:
        """Open a message item with one empty output_text part (``response.output_item.added`` and
        ``response.content_part.added``)."""
        yield from self._open(
            {"type": "message", "id": _new_id("msg"), "role": "assistant", "status": "in_progress", "content": []}
        )
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        assert self.open is not None
        self.open["content"].append(dict(part))
        yield self.emit(
            "response.content_part.added",
            item_id=self.open["id"],
            output_index=self._index(),
            content_index=0,
            part=part,
        )

    def failed(self, error: dict[str, Any]) -> Iterator[bytes]:
        raw = error.get("error")
        detail: dict[str, Any] = raw if isinstance(raw, dict) else {"message": raw}
        message = str(detail.get("message") or "The model failed.")
        code = detail.get("code")
        yield self.emit("error", code=code, message=message, param=detail.get("param"))
        response_code = code if code in _ERROR_CODES else "server_error"
        final = self.shell.body(
            status="failed", output=self.output, usage=self.usage, error={"code": response_code, "message": message}
        )
        yield self.emit("response.failed", response=final)


def response_events(
    shell: ResponseShell, chat_chunks: Iterator[bytes], on_final: Callable[[dict[str, Any]], None]
) -> Iterator[bytes]:
    """The Responses SSE events for the chat route's ``chat.completion.chunk`` SSE bytes."""
    stream = _Stream(shell, on_final)
    try:
        yield from stream.start()
        for raw in chat_chunks:
            if raw.startswith(b": waking the model"):  # chatapi.wake: keep-alives reach Responses clients too
                yield raw
                continue
            for chunk in _chunk_data(raw):
                if chunk is None:
                    yield from stream.end()
                    return
                if "error" in chunk:
                    yield from stream.failed(chunk)
                    return
                yield from stream.chunk(chunk)
        yield from stream.failed({"error": {"message": "The model stream ended early.", "code": "server_error"}})
    finally:
        close = getattr(chat_chunks, "close", None)
        if close is not None:
            close()
