"""Request and response models. Unknown fields are rejected (``extra="forbid"``) so a typo is a 400 naming it.

Numbers and booleans are strict (``"0.5"`` or ``1`` for a bool are errors), as TGI's own deserializer is.
Single-field rules live here; rules that involve several fields or the deployment's limits are checked in
``service.py`` so the error can name the field.

OpenAI fields the ``openai`` client may send that this server cannot act on are accepted when they carry their
neutral value (``frequency_penalty: 0``, ``presence_penalty: 0``, ``logprobs: false``, ``logit_bias: {}``,
``response_format: {"type": "text"}``) and rejected with 400 naming the field otherwise; purely informational
ones (``user``, ``metadata``, ``store``, ``service_tier``, ``parallel_tool_calls``, a message's ``name``) are
accepted and ignored. ``model`` is accepted and ignored: responses always report the deployed MODEL_ID.
``developer`` messages are treated as ``system`` messages, as OpenAI does for non-reasoning models.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_STOP_SEQUENCES = 4  # TGI's default --max-stop-sequences
MAX_BEST_OF = 2  # TGI's default --max-best-of

StrictFloat = Annotated[float, Field(strict=True, allow_inf_nan=False)]
StrictInt = Annotated[int, Field(strict=True)]
StrictBool = Annotated[bool, Field(strict=True)]
StrictStr = Annotated[str, Field(strict=True)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


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


class GeneratedText(BaseModel):
    """One element of the SageMaker SDK ``predict`` answer; ``details`` only when requested."""

    model_config = ConfigDict(extra="allow")
    generated_text: str


class TextPart(_Model):
    type: Literal["text"]
    text: StrictStr


class ChatMessage(_Model):
    role: Literal["system", "developer", "user", "assistant"]
    content: StrictStr | Annotated[list[TextPart], Field(min_length=1)]
    name: StrictStr | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class StreamOptions(_Model):
    include_usage: StrictBool = False
    include_obfuscation: StrictBool | None = None


class ResponseFormat(_Model):
    type: Literal["text"]


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
    frequency_penalty: StrictFloat | None = None
    presence_penalty: StrictFloat | None = None
    logprobs: StrictBool | None = None
    top_logprobs: Annotated[int, Field(strict=True, ge=0, le=0)] | None = None
    logit_bias: dict[str, Any] | None = None
    response_format: ResponseFormat | None = None
    user: StrictStr | None = None
    metadata: dict[str, StrictStr] | None = None
    store: StrictBool | None = None
    service_tier: StrictStr | None = None
    parallel_tool_calls: StrictBool | None = None

    @field_validator("frequency_penalty", "presence_penalty")
    @classmethod
    def _neutral_penalty(cls, value: float | None) -> float | None:
        if value not in (None, 0):
            raise ValueError("is not supported by this model server; omit it or send 0")
        return value

    @field_validator("logprobs")
    @classmethod
    def _no_logprobs(cls, value: bool | None) -> bool | None:
        if value:
            raise ValueError("is not supported by this model server; omit it or send false")
        return value

    @field_validator("logit_bias")
    @classmethod
    def _no_logit_bias(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value:
            raise ValueError("is not supported by this model server; omit it or send {}")
        return value


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: Literal["stop", "length"]
    logprobs: None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage | None = None


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorBody(BaseModel):
    error: ErrorDetail


class Health(BaseModel):
    status: Literal["ok"] = "ok"
