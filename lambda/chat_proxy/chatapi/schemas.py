"""Request and response models. Unknown fields are rejected (``extra="forbid"``) so a typo is a 400 naming it.

Numbers and booleans are strict (``"0.5"`` or ``1`` for a bool are errors), as TGI's own deserializer is.
Single-field rules live here; rules that involve several fields or the deployment's limits are checked in
``service.py`` so the error can name the field.

The chat request models the whole OpenAI request this API supports (tools, tool messages, ``response_format``,
logprobs, penalties, image parts), so the shape is checked the same way in both template modes. What needs the
engine's own chat template is refused afterwards in proxy-family mode (``service.check_proxy_family_request``),
naming the field. Discriminated unions (message ``role``, content part and ``response_format`` ``type``) use tags
spelled ``field=value`` so an error's location never shows a tag as if it were a field. Informational fields
(``user``, ``metadata``, ``store``, ``service_tier``, a message's ``name``) are accepted and not forwarded;
``logit_bias`` only empty. ``model`` is accepted whatever it says: one model per deployment, and the engine is
always sent its served name. ``developer`` messages are sent as ``system``, as OpenAI does for non-reasoning models.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator

MAX_STOP_SEQUENCES = 4  # TGI's default --max-stop-sequences
MAX_BEST_OF = 2  # TGI's default --max-best-of

StrictFloat = Annotated[float, Field(strict=True, allow_inf_nan=False)]
StrictInt = Annotated[int, Field(strict=True)]
StrictBool = Annotated[bool, Field(strict=True)]
StrictStr = Annotated[str, Field(strict=True)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Doc(BaseModel):
    """A response shape that only documents the API (OpenAPI): built when the schema is first asked for, not at
    start-up (``defer_build``), since answers are plain JSON built by the routes."""

    model_config = ConfigDict(defer_build=True)


class GenerateParameters(_Model):
    """TGI's ``parameters`` with TGI's validation rules (router/src/validation.rs)."""

    best_of: Annotated[int, Field(strict=True, ge=1, le=MAX_BEST_OF)] | None = None
    decoder_input_details: StrictBool | None = None
    details: StrictBool | None = None
    do_sample: StrictBool | None = None
    max_new_tokens: Annotated[int, Field(strict=True, ge=1)] | None = None
    repetition_penalty: Annotated[float, Field(strict=True, gt=0, allow_inf_nan=False)] | None = None
    return_full_text: StrictBool | None = None
    seed: Annotated[int, Field(strict=True, ge=0, le=2**64 - 1)] | None = None
    stop: Annotated[list[StrictStr], Field(max_length=MAX_STOP_SEQUENCES)] | None = None
    temperature: Annotated[float, Field(strict=True, gt=0, allow_inf_nan=False)] | None = None
    top_k: Annotated[int, Field(strict=True, gt=0)] | None = None
    top_p: Annotated[float, Field(strict=True, gt=0, lt=1, allow_inf_nan=False)] | None = None
    truncate: Annotated[int, Field(strict=True, ge=1)] | None = None
    typical_p: Annotated[float, Field(strict=True, gt=0, lt=1, allow_inf_nan=False)] | None = None
    watermark: StrictBool | None = None


class GenerateRequest(_Model):
    inputs: Annotated[str, Field(strict=True, min_length=1)]
    parameters: GenerateParameters = Field(default_factory=GenerateParameters)
    stream: StrictBool = False


class GeneratedText(_Doc):
    """One element of the SageMaker SDK ``predict`` answer; ``details`` only when requested."""

    model_config = ConfigDict(extra="allow", defer_build=True)
    generated_text: str


class TextPart(_Model):
    type: Literal["text"]
    text: StrictStr


class ImageUrl(_Model):
    url: Annotated[str, Field(strict=True, min_length=1)]
    detail: Literal["auto", "low", "high"] | None = None


class ImagePart(_Model):
    """An image for a vision model (an https URL or a ``data:`` URL); validated here, read by the engine."""

    type: Literal["image_url"]
    image_url: ImageUrl


class RefusalPart(_Model):
    type: Literal["refusal"]
    refusal: StrictStr


def _tag(field: str) -> Any:
    """A discriminator on ``field`` whose tags are ``field=value``: tags then never look like a field in ``param``."""

    def discriminate(value: Any) -> str | None:
        raw = value.get(field) if isinstance(value, dict) else getattr(value, field, None)
        return f"{field}={raw}" if isinstance(raw, str) else None

    discriminate.__name__ = field
    return Discriminator(discriminate)


UserPart = Annotated[
    Annotated[TextPart, Tag("type=text")] | Annotated[ImagePart, Tag("type=image_url")],
    _tag("type"),
]
AssistantPart = Annotated[
    Annotated[TextPart, Tag("type=text")] | Annotated[RefusalPart, Tag("type=refusal")],
    _tag("type"),
]
TextParts = Annotated[list[TextPart], Field(min_length=1)]


class FunctionCall(_Model):
    name: StrictStr
    arguments: StrictStr  # JSON text, as OpenAI sends it


class ToolCall(_Model):
    id: StrictStr
    type: Literal["function"]
    function: FunctionCall


class SystemMessage(_Model):
    role: Literal["system", "developer"]
    content: StrictStr | TextParts
    name: StrictStr | None = None


class UserMessage(_Model):
    role: Literal["user"]
    content: StrictStr | Annotated[list[UserPart], Field(min_length=1)]
    name: StrictStr | None = None


class AssistantMessage(_Model):
    role: Literal["assistant"]
    content: StrictStr | Annotated[list[AssistantPart], Field(min_length=1)] | None = None
    name: StrictStr | None = None
    refusal: StrictStr | None = None
    tool_calls: Annotated[list[ToolCall], Field(min_length=1)] | None = None


class ToolMessage(_Model):
    role: Literal["tool"]
    content: StrictStr | TextParts
    tool_call_id: Annotated[str, Field(strict=True, min_length=1)]


ChatMessage = Annotated[
    Annotated[SystemMessage, Tag("role=system")]
    | Annotated[SystemMessage, Tag("role=developer")]
    | Annotated[UserMessage, Tag("role=user")]
    | Annotated[AssistantMessage, Tag("role=assistant")]
    | Annotated[ToolMessage, Tag("role=tool")],
    _tag("role"),
]


def message_text(message: SystemMessage | UserMessage | AssistantMessage | ToolMessage) -> str:
    """The text of a message's content (text parts joined); images and refusals have none."""
    content = message.content
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(part.text for part in content if isinstance(part, TextPart))


class StreamOptions(_Model):
    include_usage: StrictBool = False
    include_obfuscation: StrictBool | None = None


FUNCTION_NAME = Annotated[str, Field(strict=True, pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class FunctionDefinition(_Model):
    name: FUNCTION_NAME
    description: StrictStr | None = None
    parameters: dict[str, Any] | None = None  # a JSON Schema object; the engine checks it
    strict: StrictBool | None = None


class Tool(_Model):
    type: Literal["function"]
    function: FunctionDefinition


class NamedFunction(_Model):
    name: FUNCTION_NAME


class NamedToolChoice(_Model):
    type: Literal["function"]
    function: NamedFunction


class TextFormat(_Model):
    type: Literal["text"]


class JsonObjectFormat(_Model):
    type: Literal["json_object"]


class JsonSchemaSpec(_Model):
    name: FUNCTION_NAME
    description: StrictStr | None = None
    schema_: Annotated[dict[str, Any] | None, Field(alias="schema")] = None
    strict: StrictBool | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)


class JsonSchemaFormat(_Model):
    type: Literal["json_schema"]
    json_schema: JsonSchemaSpec


ResponseFormat = Annotated[
    Annotated[TextFormat, Tag("type=text")]
    | Annotated[JsonObjectFormat, Tag("type=json_object")]
    | Annotated[JsonSchemaFormat, Tag("type=json_schema")],
    _tag("type"),
]
Penalty = Annotated[float, Field(strict=True, ge=-2, le=2, allow_inf_nan=False)]


class ChatCompletionRequest(_Model):
    messages: Annotated[list[ChatMessage], Field(min_length=1)]
    model: StrictStr | None = None
    max_tokens: Annotated[int, Field(strict=True, ge=1)] | None = None
    max_completion_tokens: Annotated[int, Field(strict=True, ge=1)] | None = None
    temperature: Annotated[float, Field(strict=True, ge=0, le=2, allow_inf_nan=False)] | None = None
    top_p: Annotated[float, Field(strict=True, gt=0, le=1, allow_inf_nan=False)] | None = None
    stop: StrictStr | Annotated[list[StrictStr], Field(max_length=MAX_STOP_SEQUENCES)] | None = None
    seed: Annotated[int, Field(strict=True, ge=0, le=2**64 - 1)] | None = None
    n: Annotated[int, Field(strict=True, ge=1, le=1)] | None = None
    stream: StrictBool | None = None
    stream_options: StreamOptions | None = None
    frequency_penalty: Penalty | None = None
    presence_penalty: Penalty | None = None
    logprobs: StrictBool | None = None
    top_logprobs: Annotated[int, Field(strict=True, ge=0, le=20)] | None = None
    logit_bias: dict[str, Any] | None = None
    response_format: ResponseFormat | None = None
    tools: Annotated[list[Tool], Field(min_length=1, max_length=128)] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: StrictBool | None = None
    user: StrictStr | None = None
    metadata: dict[str, StrictStr] | None = None
    store: StrictBool | None = None
    service_tier: StrictStr | None = None

    @field_validator("logit_bias")
    @classmethod
    def _no_logit_bias(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value:
            raise ValueError("is not supported by this model server; omit it or send {}")
        return value


class CompletionRequest(_Model):
    """OpenAI text completions (``POST /v1/completions``): one prompt, one choice."""

    prompt: (
        Annotated[str, Field(strict=True, min_length=1)]
        | Annotated[list[Annotated[str, Field(strict=True, min_length=1)]], Field(min_length=1, max_length=1)]
    )
    model: StrictStr | None = None
    max_tokens: Annotated[int, Field(strict=True, ge=1)] | None = None
    temperature: Annotated[float, Field(strict=True, ge=0, le=2, allow_inf_nan=False)] | None = None
    top_p: Annotated[float, Field(strict=True, gt=0, le=1, allow_inf_nan=False)] | None = None
    stop: StrictStr | Annotated[list[StrictStr], Field(max_length=MAX_STOP_SEQUENCES)] | None = None
    seed: Annotated[int, Field(strict=True, ge=0, le=2**64 - 1)] | None = None
    n: Annotated[int, Field(strict=True, ge=1, le=1)] | None = None
    best_of: Annotated[int, Field(strict=True, ge=1, le=1)] | None = None
    echo: StrictBool | None = None
    stream: StrictBool | None = None
    stream_options: StreamOptions | None = None
    frequency_penalty: Penalty | None = None
    presence_penalty: Penalty | None = None
    logprobs: Annotated[int, Field(strict=True, ge=0, le=0)] | None = None
    logit_bias: dict[str, Any] | None = None
    suffix: Annotated[str, Field(strict=True, max_length=0)] | None = None
    user: StrictStr | None = None

    @field_validator("logit_bias")
    @classmethod
    def _no_logit_bias(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value:
            raise ValueError("is not supported by this model server; omit it or send {}")
        return value

    def prompt_text(self) -> str:
        return self.prompt if isinstance(self.prompt, str) else self.prompt[0]


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class Usage(_Doc):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ResponseFunction(_Doc):
    name: str
    arguments: str


class ResponseToolCall(_Doc):
    id: str
    type: Literal["function"] = "function"
    function: ResponseFunction


class ResponseMessage(_Doc):
    # extra: e.g. ``reasoning_content`` from the engine's reasoning parser
    model_config = ConfigDict(extra="allow", defer_build=True)
    role: Literal["assistant"] = "assistant"
    content: str | None
    refusal: str | None = None
    tool_calls: list[ResponseToolCall] | None = None


class Choice(_Doc):
    index: int
    message: ResponseMessage
    finish_reason: Literal["stop", "length", "tool_calls", "content_filter"]
    logprobs: dict[str, Any] | None = None


class ChatCompletion(_Doc):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage | None = None


class CompletionChoice(_Doc):
    index: int
    text: str
    finish_reason: Literal["stop", "length"]
    logprobs: None = None


class Completion(_Doc):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None


class ErrorDetail(_Doc):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorBody(_Doc):
    error: ErrorDetail


class Health(BaseModel):
    status: Literal["ok"] = "ok"
