"""Calls that travel as TGI text generation (``transport``): chat with a prompt the proxy renders, completions
on TGI, and ``/generate`` on either engine."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chatapi.backend import TgiStream
from chatapi.checks import generate_payload
from chatapi.dialects.prompted import plan_chat, plan_completion
from chatapi.dialects.seam import Call, CallerText, StreamOutcome, openai_outcome
from chatapi.dialects.tgi_shape import (
    answer_usage,
    chat_completion,
    chat_stream,
    completion_stream,
    first_generation,
    generate_stream,
    text_completion,
)
from chatapi.dialects.transport import TextTransport
from chatapi.schemas import ChatCompletionRequest, CompletionRequest, GenerateRequest, message_text
from chatapi.settings import Settings
from chatapi.usage import Cost, Ticket, all_generated_tokens


def prompted_chat(request: ChatCompletionRequest, settings: Settings, text: TextTransport) -> Call:
    """Chat with the prompt rendered by the proxy in the deployment's ``PROMPT_FAMILY``."""
    plan = plan_chat(request, settings)
    include_usage = bool(request.stream_options and request.stream_options.include_usage)

    def answer(outcome: StreamOutcome) -> dict[str, Any]:
        body, _ = chat_completion(text.generation(plan.payload), plan, settings.model_id)
        return openai_outcome(body, outcome)

    def stream(ticket: Ticket, outcome: StreamOutcome) -> tuple[TgiStream, Iterator[bytes]]:
        opened, events = text.open(plan.payload)
        body = chat_stream(
            ticket.watch(events), plan, model=settings.model_id, include_usage=include_usage, outcome=outcome
        )
        return opened, body

    cost = Cost.of(plan.prompt, plan.payload["parameters"]["max_new_tokens"], settings)
    said = CallerText("messages", tuple(message_text(m) for m in request.messages))
    return Call(cost, plan.prompt, answer, stream, shape="chat", said=said)


def tgi_completion(request: CompletionRequest, settings: Settings, text: TextTransport) -> Call:
    """OpenAI text completions as one TGI generation (one prompt, one choice: ``chatapi.policy``)."""
    plan = plan_completion(request, settings)
    include_usage = bool(request.stream_options and request.stream_options.include_usage)

    def answer(outcome: StreamOutcome) -> dict[str, Any]:
        return openai_outcome(text_completion(text.generation(plan.payload), plan, settings.model_id), outcome)

    def stream(ticket: Ticket, outcome: StreamOutcome) -> tuple[TgiStream, Iterator[bytes]]:
        opened, events = text.open(plan.payload)
        body = completion_stream(
            ticket.watch(events), plan, model=settings.model_id, include_usage=include_usage, outcome=outcome
        )
        return opened, body

    cost = Cost.of(plan.payload["inputs"], plan.payload["parameters"]["max_new_tokens"], settings)
    said = CallerText("prompt", (plan.payload["inputs"],))
    return Call(cost, plan.payload["inputs"], answer, stream, shape="completions", said=said)


def _as_asked(item: Any, asked: dict[str, Any]) -> Any:
    """A TGI answer without the details the proxy added for its own token count."""
    if not isinstance(item, dict) or "details" not in item:
        return item
    if not asked.get("details"):
        return {k: v for k, v in item.items() if k != "details"}
    if not asked.get("decoder_input_details") and isinstance(item["details"], dict):
        return {**item, "details": {**item["details"], "prefill": []}}
    return item


def tgi_generate(request: GenerateRequest, settings: Settings, text: TextTransport) -> Call:
    """TGI-native generation; answers ``[{"generated_text": ...}]`` like the SageMaker SDK's ``predict``."""
    payload = generate_payload(request, settings)
    # The engine is always asked for details (token counts for usage); the caller gets what it asked for.
    asked = dict(payload["parameters"])
    engine_payload = {**payload, "parameters": {**asked, "details": True}}

    def answer(outcome: StreamOutcome) -> list[Any]:
        found = text.generate_answer(engine_payload, asked)
        generation = first_generation(found)
        details = generation.get("details") if isinstance(generation.get("details"), dict) else None
        outcome.finish_reason = (details or {}).get("finish_reason")
        outcome.record_usage(answer_usage(details))
        outcome.generated_tokens = all_generated_tokens(details)
        items = found if isinstance(found, list) else [found]
        return [_as_asked(item, asked) for item in items]

    def stream(ticket: Ticket, outcome: StreamOutcome) -> tuple[TgiStream, Iterator[bytes]]:
        opened, events = text.open(engine_payload, param_prefix="parameters.")
        return opened, generate_stream(ticket.watch(events), outcome, details=bool(asked.get("details")))

    # best_of > 1: TGI generates every candidate to max_new_tokens and answers the best; each is charged.
    best_of = int(payload["parameters"].get("best_of", 1))
    cost = Cost.of(request.inputs, payload["parameters"]["max_new_tokens"], settings, sequences=best_of)
    return Call(cost, request.inputs, answer, stream, shape="generate", said=CallerText("inputs", (request.inputs,)))
