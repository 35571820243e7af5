"""Per-request usage: who calls (``caller``), the limits before the model is called (``limits``), and the tokens
metered (``metering``) and charged once the answer is known.

The routes use three hooks:

* ``ticket = usage.start(request, stream=...)`` after the request is validated, before the model is called:
  resolves the caller, checks the daily budget and, for a stream, takes a stream slot (429 when over);
* ``ticket.finish(prompt_tokens=..., completion_tokens=...)`` when a non-streamed answer is known, and
  ``events = ticket.watch(events)`` around a model stream's events, which finishes the ticket from the final
  event's details *before* that event is passed on (work done after a Lambda's last byte may be frozen);
* ``finish_pending(scope)`` in the request middleware's ``finally``: whatever did not finish (an error, a client
  that went away mid-stream: then the tokens streamed so far are charged) is finished there. ``finish`` runs once.

Environment (set by the ChatApi construct; ``make dev`` needs none of it):

========================== =================== ==================================================================
Variable                   Default             Meaning
========================== =================== ==================================================================
``CALLER_IDENTITY``        (none: ``local``)   ``iam`` or ``api_key``: which API Gateway identity names the caller
``METRICS_NAMESPACE``      ``LlmChat``         CloudWatch namespace of the EMF metrics
``USAGE_TABLE_NAME``       (none)              DynamoDB table of the limits; required by the two below
``DAILY_TOKEN_BUDGET``     (off)               tokens per caller per UTC day
``MAX_STREAMS_PER_CALLER`` (off)               concurrent streamed answers per caller
========================== =================== ==================================================================
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import botocore.session
from botocore.config import Config
from starlette.requests import Request
from starlette.types import Scope

from chatapi.caller import CALLER_IDENTITY, MODES, resolve_caller
from chatapi.limits import LimitsUnavailable, StreamSlot, UsageLimits
from chatapi.metering import DEFAULT_NAMESPACE, METRICS_NAMESPACE, Meter
from chatapi.settings import SettingsError

USAGE_TABLE_NAME = "USAGE_TABLE_NAME"
DAILY_TOKEN_BUDGET = "DAILY_TOKEN_BUDGET"  # noqa: S105 - an environment variable name, not a secret
MAX_STREAMS_PER_CALLER = "MAX_STREAMS_PER_CALLER"
STATE_KEY = "usage_ticket"
# CloudWatch namespaces: 1-255 of these characters (PutMetricData's Namespace constraint).
NAMESPACE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_/#:")


@dataclass(frozen=True, slots=True)
class UsageSettings:
    caller_identity: str | None = None
    metrics_namespace: str = DEFAULT_NAMESPACE
    table_name: str | None = None
    daily_token_budget: int | None = None
    max_streams_per_caller: int | None = None


def _optional_int(env: Mapping[str, str], name: str) -> int | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise SettingsError(f"{name}={raw!r} is not allowed; expected a whole number >= 1 (unset: no limit)")
    return int(raw)


def load_usage_settings(env: Mapping[str, str] | None = None) -> UsageSettings:
    """Read the variables above from ``env`` (default ``os.environ``); raise ``SettingsError`` on a bad value."""
    env = os.environ if env is None else env
    mode = env.get(CALLER_IDENTITY, "").strip() or None
    if mode is not None and mode not in MODES:
        raise SettingsError(f"{CALLER_IDENTITY}={mode!r} is not supported; expected one of {list(MODES)} or unset")
    namespace = env.get(METRICS_NAMESPACE, "").strip() or DEFAULT_NAMESPACE
    if len(namespace) > 255 or not set(namespace) <= NAMESPACE_CHARS or namespace.startswith("AWS/"):
        raise SettingsError(f"{METRICS_NAMESPACE}={namespace!r} is not a valid custom CloudWatch namespace")
    table = env.get(USAGE_TABLE_NAME, "").strip() or None
    budget = _optional_int(env, DAILY_TOKEN_BUDGET)
    streams = _optional_int(env, MAX_STREAMS_PER_CALLER)
    if table is None and (budget is not None or streams is not None):
        raise SettingsError(f"{DAILY_TOKEN_BUDGET} and {MAX_STREAMS_PER_CALLER} need {USAGE_TABLE_NAME}")
    return UsageSettings(mode, namespace, table, budget, streams)


def tgi_counts(details: Any) -> tuple[int, int]:
    """(prompt, completion) tokens of TGI ``details``: ``input_length`` (streams) or the prefill (non-stream)."""
    if not isinstance(details, dict):
        return 0, 0
    prompt = details.get("input_length")
    if not isinstance(prompt, int):
        prefill = details.get("prefill")
        prompt = len(prefill) if isinstance(prefill, list) else 0
    completion = details.get("generated_tokens")
    return prompt, completion if isinstance(completion, int) else 0


@dataclass(frozen=True, slots=True)
class AsAsked:
    """Takes out of a TGI answer the details ``generate_details`` asked for on metering's behalf."""

    keeps_details: bool
    keeps_prefill: bool

    def __call__(self, answer: Any) -> Any:
        items = answer if isinstance(answer, list) else [answer]
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("details"), dict):
                continue
            if not self.keeps_details:
                del item["details"]
            elif not self.keeps_prefill:
                item["details"]["prefill"] = []  # what TGI answers when decoder_input_details is false
        return answer


def generate_details(payload: dict[str, Any], *, stream: bool) -> tuple[dict[str, Any], AsAsked]:
    """``/generate``'s payload asking TGI for the token counts (``details``; the prompt's prefill when not
    streaming: TGI refuses ``decoder_input_details`` on streams), and what undoes that in the answer."""
    params = dict(payload.get("parameters") or {})
    as_asked = AsAsked(bool(params.get("details")), bool(params.get("decoder_input_details")))
    params["details"] = True
    if not stream:
        params["decoder_input_details"] = True
    return {**payload, "parameters": params}, as_asked


def openai_counts(usage: Any) -> tuple[int, int]:
    """(prompt, completion) tokens of an OpenAI ``usage`` object (what vLLM's OpenAI server reports)."""
    if not isinstance(usage, dict):
        return 0, 0
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    return (prompt if isinstance(prompt, int) else 0), (completion if isinstance(completion, int) else 0)


def openai_stream_usage(payload: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """A streamed OpenAI request asking the engine for its final usage chunk (``stream_options.include_usage``),
    and whether the caller had asked for it (else ``Ticket.watch_openai(keep_usage=False)`` drops it)."""
    options = dict(payload.get("stream_options") or {})
    asked = bool(options.get("include_usage"))
    options["include_usage"] = True
    return {**payload, "stream_options": options}, asked


class Ticket:
    """One metered model request of ``caller``."""

    def __init__(self, usage: Usage, caller: str, slot: StreamSlot | None) -> None:
        self.caller = caller
        self._usage = usage
        self._slot = slot
        self._lock = threading.Lock()
        self.finished = False
        self.streamed_tokens = 0

    def finish(self, *, prompt_tokens: int = 0, completion_tokens: int = 0) -> None:
        """Meter and charge the tokens and release the stream slot; only the first call counts."""
        with self._lock:
            if self.finished:
                return
            self.finished = True
        self._usage.settle(self.caller, prompt_tokens, completion_tokens, self._slot)

    def finish_partial(self) -> None:
        """The answer ended without the engine's counts: charge the tokens streamed so far."""
        self.finish(completion_tokens=self.streamed_tokens)

    def watch(
        self, events: Iterable[tuple[str, dict[str, Any] | None]], *, keep_details: bool = True
    ) -> Iterator[tuple[str, dict[str, Any] | None]]:
        """Pass TGI stream events through, counting tokens; finish from the final event's details.

        ``keep_details=False``: the details were asked of TGI for metering only, so they are taken out of the
        final event (the client gets the event it asked for)."""
        for data, event in events:
            if event is not None and isinstance(event.get("token"), dict):
                self.streamed_tokens += 1
            if event is not None and event.get("generated_text") is not None:
                prompt, completion = tgi_counts(event.get("details"))
                self.finish(prompt_tokens=prompt, completion_tokens=completion or self.streamed_tokens)
                if not keep_details and event.get("details") is not None:
                    event = {**event, "details": None}
                    data = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
            elif event is not None and "error" in event:
                self.finish_partial()
            yield data, event

    def watch_openai(
        self, events: Iterable[tuple[str, dict[str, Any] | None]], *, keep_usage: bool = True
    ) -> Iterator[tuple[str, dict[str, Any] | None]]:
        """The same for an OpenAI-protocol stream (vLLM): chunks counted, finished from the usage chunk.

        ``keep_usage=False``: the usage chunk (``choices: []``) and the ``usage: null`` of the other chunks were
        asked for metering only (``openai_stream_usage``), so they are taken out."""
        for data, event in events:
            if event is None:  # [DONE]
                if not self.finished:
                    self.finish_partial()
                yield data, event
                continue
            if "error" in event:
                self.finish_partial()
                yield data, event
                continue
            choices = event.get("choices")
            if isinstance(choices, list) and any(
                isinstance(c, dict) and ((c.get("delta") or {}).get("content") or c.get("text")) for c in choices
            ):
                self.streamed_tokens += 1
            usage = event.get("usage")
            if isinstance(usage, dict):
                prompt, completion = openai_counts(usage)
                self.finish(prompt_tokens=prompt, completion_tokens=completion)
            if not keep_usage and "usage" in event:
                if not choices:
                    continue
                event = {k: v for k, v in event.items() if k != "usage"}
                data = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
            yield data, event


class Usage:
    """Callers, limits and metering of one app."""

    def __init__(
        self, settings: UsageSettings, model: str, *, limits: UsageLimits | None = None, logger: Any = None
    ) -> None:
        self.settings = settings
        self.meter = Meter(settings.metrics_namespace, model)
        self.limits = limits
        self._logger = logger

    @classmethod
    def from_settings(
        cls, settings: UsageSettings, model: str, *, region: str | None = None, logger: Any = None
    ) -> Usage:
        limits = None
        if settings.table_name and (settings.daily_token_budget or settings.max_streams_per_caller):
            config = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "total_max_attempts": 3})
            # botocore directly, as the SageMaker client (backend.make_client): boto3 only adds start-up time.
            client = botocore.session.get_session().create_client("dynamodb", region_name=region, config=config)
            limits = UsageLimits(
                client,
                settings.table_name,
                daily_token_budget=settings.daily_token_budget,
                max_streams=settings.max_streams_per_caller,
            )
        return cls(settings, model, limits=limits, logger=logger)

    def _unavailable(self, what: str, exc: LimitsUnavailable) -> None:
        if self._logger is not None:
            self._logger.error("usage limits unavailable", extra={"operation": what, "error_code": str(exc)})

    def start(self, request: Request, *, stream: bool) -> Ticket:
        """Admit a model request (429 ApiError when over a limit); the ticket is kept on the request's state."""
        caller = resolve_caller(dict(request.scope["headers"]), self.settings.caller_identity)
        slot = None
        if self.limits is not None:
            try:
                self.limits.check_budget(caller)
                if stream:
                    slot = self.limits.acquire_stream(caller)
            except LimitsUnavailable as exc:
                self._unavailable("admit", exc)
        ticket = Ticket(self, caller, slot)
        request.scope.setdefault("state", {})[STATE_KEY] = ticket
        return ticket

    def settle(self, caller: str, prompt_tokens: int, completion_tokens: int, slot: StreamSlot | None) -> None:
        self.meter.record(caller, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
        if self.limits is None:
            return
        try:
            self.limits.add_tokens(caller, prompt_tokens + completion_tokens)
        except LimitsUnavailable as exc:
            self._unavailable("add_tokens", exc)
        if slot is not None:
            try:
                self.limits.release_stream(slot)
            except LimitsUnavailable as exc:
                self._unavailable("release_stream", exc)


async def finish_pending(scope: Scope) -> None:
    """Finish a ticket the request left open (errors, disconnects), off the event loop."""
    ticket = scope.get("state", {}).get(STATE_KEY)
    if isinstance(ticket, Ticket) and not ticket.finished:
        await anyio.to_thread.run_sync(ticket.finish_partial)
