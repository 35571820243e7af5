"""The engine seam: what the routes ask of an engine, whichever dialect it speaks.

A route validates nothing engine-specific and never asks which engine it talks to: it hands the request to its
``Dialect`` (chosen once at start-up, ``chatapi.dialects.make_dialect``) and gets a ``Call`` back: the request
checked and translated, with what to charge for it, what to log and what a guardrail reads, and two ways to run
it (an answer, or a stream of SSE bytes). The route then meters, checks, logs and answers the same way on every
engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeAlias

from chatapi.backend import TgiStream
from chatapi.embeddings import EmbeddingRequest
from chatapi.errors import ApiError
from chatapi.schemas import ChatCompletionRequest, CompletionRequest, GenerateRequest
from chatapi.usage import Cost, Ticket
from chatapi.wake import HeldStream

# The model's open stream, as the routes hold it (to close it when the client leaves: ``chatapi.streaming``).
ModelStream: TypeAlias = TgiStream
# What a call answers, JSON or SSE: OpenAI chat completions, OpenAI text completions, or TGI's /generate.
Shape: TypeAlias = Literal["chat", "completions", "generate", "embeddings"]


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
class CallerText:
    """What the caller wrote, as a text check reads it (``chatapi.guardrails``): one text per message or prompt,
    and the request field they came from. ``texts`` None: the prompt is token ids, which no text check can read."""

    param: str
    texts: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class Call:
    """One checked request, ready for the model. Building it does no I/O, so a bad request costs nothing.

    ``answer(outcome)`` returns the JSON body (recording finish reason and token counts in ``outcome``);
    ``stream(ticket, outcome)`` opens the model's stream (an error before the first event raises ``ApiError``)
    and returns it with the SSE bytes for the client, metered by ``ticket`` as they pass. Both are in ``shape``.
    """

    cost: Cost
    prompt: str  # what LOG_PROMPTS logs
    answer: Callable[[StreamOutcome], Any]
    stream: Callable[[Ticket, StreamOutcome], tuple[ModelStream, Iterator[bytes]]]
    shape: Shape
    said: CallerText


def client_bytes(stream: ModelStream, body: Iterator[bytes]) -> Iterator[bytes]:
    """The SSE bytes a client reads for a call's ``stream``: while a scaled-to-zero model wakes (a held stream,
    ``chatapi.wake``), comment lines first, so the client and API Gateway see bytes before the answer."""
    return stream.keepalives(body) if isinstance(stream, HeldStream) else body


class Dialect(Protocol):
    """One way of talking to an engine: TGI with a prompt the proxy renders, TGI's Messages API, vLLM's OpenAI
    server."""

    owned_by: str  # the model card's ``owned_by`` (as vLLM's /v1/models says it)

    def chat(self, request: ChatCompletionRequest) -> Call:
        """OpenAI chat completions."""
        ...

    def completion(self, request: CompletionRequest) -> Call:
        """OpenAI text completions of a raw prompt."""
        ...

    def generate(self, request: GenerateRequest) -> Call:
        """TGI-native ``/generate``: answers and streams in TGI's shapes on every engine."""
        ...

    def embeddings(self, request: EmbeddingRequest) -> Call:
        """OpenAI embeddings (vLLM's pooling runner; TGI serves none)."""
        ...

    def error(self, body: dict[str, Any], status: int | None = None) -> ApiError:
        """The ApiError for the engine's error body or stream event (its own HTTP ``status`` when known)."""
        ...


def openai_outcome(body: dict[str, Any], outcome: StreamOutcome) -> dict[str, Any]:
    """Record an OpenAI answer's finish reason and usage in ``outcome``; returns ``body``."""
    outcome.finish_reason = body["choices"][0]["finish_reason"]
    outcome.record_usage(body.get("usage"))
    return body


def message_texts(messages: Any) -> tuple[str, ...]:
    """The text of each OpenAI message as sent to the engine (string content, text parts, tool-call arguments)."""
    texts: list[str] = []
    for message in messages if isinstance(messages, list) else []:
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts.extend(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
        for call in message.get("tool_calls") or []:
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                texts.append(function["arguments"])
    return tuple(texts)


def prompt_texts(prompt: Any) -> tuple[str, ...] | None:
    """The texts of a completions ``prompt`` (a string or a list of them); None for token ids."""
    prompts = prompt if isinstance(prompt, list) else [prompt]
    return tuple(prompts) if all(isinstance(p, str) for p in prompts) else None
