"""How every model route runs a call from the engine seam: log the prompt (``LOG_PROMPTS``), admit and meter it
(``usage``: 429 when the caller is over a limit), check it with the guardrail if there is one (``guardrails``: 400
before the model is called), then answer JSON or stream SSE, the answer checked too, with one log line per call."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from aws_lambda_powertools import Logger
from fastapi import Request
from fastapi.responses import JSONResponse, Response

from chatapi.dialects import Call, ModelStream, StreamOutcome, client_bytes
from chatapi.guardrails import NO_GUARDRAIL, Guardrail
from chatapi.schemas import ErrorBody
from chatapi.settings import Settings
from chatapi.streaming import EventStreamResponse
from chatapi.usage import Ticket, Usage

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody} for status in (400, 413, 429, 500, 502, 503, 504)
}
STREAM_CONTENT = {"text/event-stream": {"schema": {"type": "string"}}}


class CallRunner:
    """Runs calls for the routes; ``usage`` meters and limits callers (``chatapi.usage``), ``guardrail`` (None:
    none) checks what callers send and what the model answers (``chatapi.guardrails``)."""

    def __init__(self, settings: Settings, usage: Usage, logger: Logger, guardrail: Guardrail | None = None) -> None:
        self.settings = settings
        self.usage = usage
        self.logger = logger
        self.guardrail = guardrail

    def run(
        self,
        call: Call,
        http_request: Request,
        *,
        stream: bool,
        route: str,
        completion_text: Callable[[Any], str] | None = None,
        model: str | None = None,
    ) -> Response:
        """Charge ``call`` to the caller, then answer it; ``completion_text`` picks the answer's text to log;
        ``model`` is the served model metered (None: the deployment's)."""
        self.log_text("prompt", call.prompt)
        ticket = self.usage.start(http_request, stream=stream, cost=call.cost, model=model)
        # After usage.start: an over-limit caller gets its 429 without a Bedrock call; a blocked one is settled by
        # the middleware with nothing generated (the model is never called).
        check = self.guardrail.check(ticket.caller) if self.guardrail is not None else NO_GUARDRAIL
        check.input(call.said.texts, param=call.said.param)
        outcome = StreamOutcome()
        if not stream:
            try:
                body = check.answer(call.answer(outcome), call.shape, outcome)
            finally:
                check.record()  # the input check's units too when the model call failed
            self.call_finished(route, outcome, streamed=False, ticket=ticket, model=model)
            if completion_text is not None:
                self.log_text("completion", completion_text(body))
            return JSONResponse(body)
        try:
            opened, chunks = call.stream(ticket, outcome)
        except Exception:
            check.record()
            raise
        return self.streaming(
            client_bytes(opened, check.stream(chunks, call.shape, outcome)), opened, outcome, route, model=model
        )

    def log_text(self, label: str, text: str) -> None:
        if self.settings.log_prompts:
            self.logger.info(label, extra={"text": text})

    def call_finished(
        self,
        route: str,
        outcome: StreamOutcome,
        *,
        streamed: bool,
        ticket: Ticket | None = None,
        client_disconnected: bool = False,
        model: str | None = None,
    ) -> None:
        """One log line per model call with its token counts, streamed or not: where usage is read from. A
        non-streamed call's ``ticket`` (metering and limits, ``chatapi.usage``) is settled here, before the answer
        is sent; a stream's by ``Ticket.watch`` as its last event passes (one cut short: by the middleware)."""
        if ticket is not None:
            # No prompt count from the engine (None): the ticket charges its admission estimate.
            ticket.finish(prompt_tokens=outcome.prompt_tokens, completion_tokens=outcome.generated_tokens or 0)
        if client_disconnected:
            outcome.error_code = "client_disconnected"
        log = self.logger.warning if client_disconnected else self.logger.info
        log(
            "stream finished" if streamed else "call finished",
            extra={
                "route": route,
                **({"model": model} if model is not None else {}),
                "finish_reason": outcome.finish_reason,
                "prompt_tokens": outcome.prompt_tokens,
                "generated_tokens": outcome.generated_tokens,
                "error_code": outcome.error_code,
            },
        )

    def streaming(
        self,
        body: Iterator[bytes],
        stream: ModelStream,
        outcome: StreamOutcome,
        route: str,
        *,
        model: str | None = None,
    ) -> Response:
        def finished(client_disconnected: bool) -> None:
            self.call_finished(route, outcome, streamed=True, client_disconnected=client_disconnected, model=model)

        return EventStreamResponse(body, stream, finished, headers=SSE_HEADERS)
