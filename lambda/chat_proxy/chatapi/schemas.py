"""Request and response models. Unknown fields are rejected (``extra="forbid"``) so a typo is a 400 naming it.

Numbers and booleans are strict (``"0.5"`` or ``1`` for a bool are errors), as TGI's own deserializer is.
Single-field rules live here; rules that involve several fields or the deployment's limits are checked in
``checks.py`` and the dialects so the error can name the field.

The chat request models the whole OpenAI request this API supports (tools, tool messages, ``response_format``,
logprobs, penalties, image parts), so the shape is checked the same way in both template modes. What needs the
engine's own chat template is refused afterwards in proxy-family mode (``prompted.check_proxy_family_request``),
naming the field. Discriminated unions (message ``role``, content part and ``response_format`` ``type``) use tags
spelled ``field=value`` so an error's location never shows a tag as if it were a field. Informational fields
(``user``, ``metadata``, ``store``, ``service_tier``, a message's ``name``, ...) are accepted and not forwarded.
What each field does per engine, and the vLLM fields a request may carry besides these (kept in ``extras``), is
``chatapi.policy``'s table (``docs/api-fields.md``). ``developer`` messages are sent as ``system``, as OpenAI does
for non-reasoning models; OpenAI's legacy ``functions``/``function_call`` (and ``function`` messages) are read as
``tools``/``tool_choice`` (and tool messages).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, PrivateAttr, Tag, model_validator
from pydantic_core.core_schema import ValidatorFunctionWrapHandler

from chatapi import policy

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


class _EngineFields(_Model):
    """A request that may carry engine fields (``chatapi.policy``) besides its declared ones: they are kept in
    ``extras`` (unvalidated: the engine validates them), any other unknown field stays a 400."""

    _extras: dict[str, Any] = PrivateAttr(default_factory=dict)
    engine_table: ClassVar[dict[str, policy.Rule]] = {}  # the policy table of this route

    @property
    def extras(self) -> dict[str, Any]:
        return self._extras

    @model_validator(mode="wrap")
    @classmethod
    def _split_engine_fields(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        extras: dict[str, Any] = {}
        if isinstance(data, dict):
            data = cls._legacy(dict(data))
            allowed = policy.engine_fields(cls.engine_table, cls.model_fields.keys())
            extras = {k: v for k, v in data.items() if k in allowed}
            data = {k: v for k, v in data.items() if k not in extras}
        result = handler(data)
        result._extras = extras
        return result

    @classmethod
    def _legacy(cls, data: dict[str, Any]) -> dict[str, Any]:
        return data


def _legacy_messages(messages: Any) -> Any:
    """OpenAI's legacy function calling in a conversation: an assistant ``function_call`` becomes a tool call and
    the ``function`` message answering it a tool message with that call's id."""
    if not isinstance(messages, list):
        return messages
    out: list[Any] = []
    pending: dict[str, str] = {}
    for i, message in enumerate(messages):
        if isinstance(message, dict) and message.get("role") == "assistant" and "function_call" in message:
            message = dict(message)
            call = message.pop("function_call")
            if call is not None:
                name = call.get("name") if isinstance(call, dict) else None
                call_id = f"call_{i}"
                pending[str(name)] = call_id
                message["tool_calls"] = [{"id": call_id, "type": "function", "function": call}]
        elif isinstance(message, dict) and message.get("role") == "function":
            message = {
                "role": "tool",
                "content": message.get("content"),
                "tool_call_id": pending.pop(str(message.get("name")), f"call_{message.get('name')}"),
            }
        out.append(message)
    return out


ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]


class ChatCompletionRequest(_EngineFields):
    engine_table: ClassVar[dict[str, policy.Rule]] = policy.CHAT_FIELDS
    _legacy_functions: bool = PrivateAttr(default=False)
    _conflict: tuple[str, str] | None = PrivateAttr(default=None)

    messages: Annotated[list[ChatMessage], Field(min_length=1)]
    model: StrictStr | None = None
    max_tokens: Annotated[int, Field(strict=True, ge=1)] | None = None
    max_completion_tokens: Annotated[int, Field(strict=True, ge=1)] | None = None
    temperature: Annotated[float, Field(strict=True, ge=0, le=2, allow_inf_nan=False)] | None = None
    top_p: Annotated[float, Field(strict=True, gt=0, le=1, allow_inf_nan=False)] | None = None
    stop: StrictStr | Annotated[list[StrictStr], Field(max_length=MAX_STOP_SEQUENCES)] | None = None
    seed: Annotated[int, Field(strict=True, ge=0, le=2**64 - 1)] | None = None
    n: Annotated[int, Field(strict=True, ge=1, le=128)] | None = None  # OpenAI's bounds
    stream: StrictBool | None = None
    stream_options: StreamOptions | None = None
    frequency_penalty: Penalty | None = None
    presence_penalty: Penalty | None = None
    logprobs: StrictBool | None = None
    top_logprobs: Annotated[int, Field(strict=True, ge=0, le=20)] | None = None
    logit_bias: dict[str, Annotated[float, Field(strict=False, ge=-100, le=100)]] | None = None
    response_format: ResponseFormat | None = None
    tools: Annotated[list[Tool], Field(min_length=1, max_length=128)] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: StrictBool | None = None
    reasoning_effort: ReasoningEffort | None = None
    functions: Annotated[list[FunctionDefinition], Field(min_length=1, max_length=128)] | None = None
    function_call: Literal["none", "auto"] | NamedFunction | None = None
    user: StrictStr | None = None
    metadata: dict[str, StrictStr] | None = None
    store: StrictBool | None = None
    service_tier: StrictStr | None = None
    prompt_cache_key: StrictStr | None = None
    prompt_cache_retention: StrictStr | None = None
    prompt_cache_options: dict[str, Any] | None = None
    safety_identifier: StrictStr | None = None
    verbosity: Literal["low", "medium", "high"] | None = None
    prediction: dict[str, Any] | None = None
    modalities: list[Literal["text", "audio"]] | None = None
    audio: dict[str, Any] | None = None
    web_search_options: dict[str, Any] | None = None
    moderation: dict[str, Any] | None = None

    @classmethod
    def _legacy(cls, data: dict[str, Any]) -> dict[str, Any]:
        if "messages" in data:
            data["messages"] = _legacy_messages(data["messages"])
        return data

    @model_validator(mode="after")
    def _functions_as_tools(self) -> ChatCompletionRequest:
        """OpenAI's legacy ``functions``/``function_call`` are ``tools``/``tool_choice`` (and answered in the
        legacy shape: ``legacy_functions``)."""
        if self.functions is not None and self.tools is not None:
            self._conflict = ("functions", "send tools or the legacy functions, not both")
        elif self.function_call is not None and self.tool_choice is not None:
            self._conflict = ("function_call", "send tool_choice or the legacy function_call, not both")
        if self._conflict is not None:
            return self
        if self.functions is not None:
            self.tools = [Tool(type="function", function=f) for f in self.functions]
            self._legacy_functions = True
        if self.function_call is not None:
            call = self.function_call
            self.tool_choice = call if isinstance(call, str) else NamedToolChoice(type="function", function=call)
        return self

    @property
    def legacy_functions(self) -> bool:
        return self._legacy_functions

    def refused_openai_field(self) -> tuple[str, str] | None:
        """An OpenAI field this API refuses whatever the engine (``chatapi.policy``): its name and reason."""
        if self._conflict is not None:
            return self._conflict
        if self.modalities is not None and any(m != "text" for m in self.modalities):
            return "modalities", 'these models answer in text only; send ["text"] or omit it'
        if self.audio is not None:
            return "audio", "these models answer in text only (no audio output); omit it or send null"
        for name in ("web_search_options", "moderation"):
            if getattr(self, name) is not None:
                return name, policy.CHAT_FIELDS[name].vllm.removeprefix("refused: ")
        return None


PromptText = Annotated[str, Field(strict=True, min_length=1)]
TokenIds = Annotated[list[Annotated[int, Field(strict=True, ge=0)]], Field(min_length=1)]


class CompletionRequest(_EngineFields):
    """OpenAI text completions (``POST /v1/completions``): a prompt, or a list of them, as text or token ids."""

    engine_table: ClassVar[dict[str, policy.Rule]] = policy.COMPLETION_FIELDS

    prompt: (
        PromptText
        | Annotated[list[PromptText], Field(min_length=1)]
        | TokenIds
        | Annotated[list[TokenIds], Field(min_length=1)]
    )
    model: StrictStr | None = None
    max_tokens: Annotated[int, Field(strict=True, ge=1)] | None = None
    temperature: Annotated[float, Field(strict=True, ge=0, le=2, allow_inf_nan=False)] | None = None
    top_p: Annotated[float, Field(strict=True, gt=0, le=1, allow_inf_nan=False)] | None = None
    stop: StrictStr | Annotated[list[StrictStr], Field(max_length=MAX_STOP_SEQUENCES)] | None = None
    seed: Annotated[int, Field(strict=True, ge=0, le=2**64 - 1)] | None = None
    n: Annotated[int, Field(strict=True, ge=1, le=128)] | None = None  # OpenAI's bounds
    best_of: Annotated[int, Field(strict=True, ge=1, le=1)] | None = None
    echo: StrictBool | None = None
    stream: StrictBool | None = None
    stream_options: StreamOptions | None = None
    frequency_penalty: Penalty | None = None
    presence_penalty: Penalty | None = None
    logprobs: Annotated[int, Field(strict=True, ge=0)] | None = None  # the engine checks its --max-logprobs
    logit_bias: dict[str, Annotated[float, Field(strict=False, ge=-100, le=100)]] | None = None
    suffix: StrictStr | None = None
    user: StrictStr | None = None

    def prompt_text(self) -> str | None:
        """The prompt when it is one text (the only kind TGI takes), else None."""
        if isinstance(self.prompt, str):
            return self.prompt
        if len(self.prompt) == 1 and isinstance(self.prompt[0], str):
            return self.prompt[0]
        return None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str
    root: str | None = None  # as vLLM reports it: the served model an alias stands for
    parent: str | None = None
    max_model_len: int | None = None
    kind: Literal["chat", "embedding"] | None = None  # MODEL_ROUTES' kind of the model


class Embedding(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str  # floats, or base64 of little-endian float32s (encoding_format)


class EmbeddingUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage


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
