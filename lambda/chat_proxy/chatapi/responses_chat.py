"""A Responses request as the chat request it runs as (``to_chat``), what it cannot honour (``check_supported``),
and the Responses field a chat error came from (``rename_param``). The request models are ``chatapi.responses``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from chatapi.errors import ApiError, bad_request
from chatapi.responses import (
    BUILT_IN_TOOLS_REASON,
    FunctionCallItem,
    FunctionCallOutputItem,
    FunctionTool,
    HostedTool,
    InputFile,
    InputImage,
    InputText,
    ItemReference,
    MessageItem,
    NamedFunctionChoice,
    OutputText,
    ReasoningItemIn,
    Refusal,
    ResponsesRequest,
    TextFormatJsonObject,
    TextFormatJsonSchema,
)
from chatapi.schemas import ChatCompletionRequest


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
