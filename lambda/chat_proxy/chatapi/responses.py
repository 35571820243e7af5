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
(``responses_chat.to_chat``), runs through the chat route itself (prompt families, engines, limits, metering,
errors: all as for chat), and the chat answer or chunk stream becomes a ``response`` object or the typed Responses
event stream (``responses_out``). This module holds the request models.

What is refused, with a 400 naming the field: OpenAI's hosted tools (``web_search``, ``file_search``, ...),
``background``, ``conversation``, stored ``prompt`` templates, ``include`` values, ``truncation: auto``,
``reasoning.effort``/``summary``, ``top_logprobs``, ``max_tool_calls``, input files and ``item_reference``
items. ``store`` is accepted; it takes effect only where the deployment keeps responses (``responses_store``), as
vLLM does with its own store switched off (``responses/serving.py``: "we opted to implicitly disable store").
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag

from chatapi.schemas import (
    FUNCTION_NAME,
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
