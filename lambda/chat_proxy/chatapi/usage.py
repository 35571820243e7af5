"""Per-request usage: who calls (``caller``), the limits before the model is called (``limits``), and the tokens
metered (``metering``) and charged once the answer is known.

The routes use three hooks (a new model route, e.g. ``/v1/responses``, uses the same three):

* ``ticket = usage.start(request, stream=..., cost=Cost.of(text, max_new_tokens, settings, sequences=n))``
  after the request is validated, before the model is called. ``text`` is what the engine will tokenize (the
  rendered prompt, or the JSON of the messages and tools); ``max_new_tokens`` the most tokens one sequence may
  generate (an omitted ``max_tokens`` that means "the rest of the context" passes ``None``: the context left
  after the prompt is reserved); ``sequences`` every sequence generated (``n`` choices, ``best_of``). It resolves
  the caller, counts the request against the per-minute rate, takes a request slot and, for a stream, a stream
  slot, and reserves the worst case on the daily budget (429 when any does not fit);
* ``ticket.finish(prompt_tokens=..., completion_tokens=...)`` when a non-streamed answer is known (the engine's
  counts; ``prompt_tokens=None`` when the engine gave none: the admission estimate is charged), and ``events =
  ticket.watch(events)`` / ``ticket.watch_openai(events)`` around a model stream's events, which finish the
  ticket from the final event's counts *before* that event is passed on (work done after a Lambda's last byte
  may be frozen);
* ``finish_pending(scope)`` in the request middleware's ``finally``: whatever did not finish is finished there.
  A stream cut short (the client went away, the engine failed mid-stream) is charged the prompt's admission
  estimate plus the tokens streamed so far; a call that failed before the engine sent anything is charged
  nothing. ``finish`` runs once; it settles the reservation and releases the slots.

Environment (set by the ChatApi construct; ``make dev`` needs none of it):

========================== =================== ==================================================================
Variable                   Default             Meaning
========================== =================== ==================================================================
``CALLER_IDENTITY``        (none: ``local``)   ``iam`` or ``api_key``: which API Gateway identity names the caller
``METRICS_NAMESPACE``      ``LlmChat``         CloudWatch namespace of the EMF metrics
``USAGE_TABLE_NAME``       (none)              DynamoDB table of the limits; required by the two below
``DAILY_TOKEN_BUDGET``     (off)               tokens per caller per UTC day (reserved at admission, settled at end)
``MAX_STREAMS_PER_CALLER`` (off)               concurrent streamed answers per caller
``MAX_REQUESTS_PER_CALLER`` (off)              concurrent model requests of every kind per caller
``REQUESTS_PER_MINUTE_PER_CALLER`` (off)       model requests per caller per minute (IAM mode's per-caller rate)
``CALLER_KEY``             ``role``            ``session``: an assumed role's session name is part of the caller
========================== =================== ==================================================================
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import botocore.session
from botocore.config import Config
from starlette.requests import Request
from starlette.types import Scope

from chatapi.caller import CALLER_IDENTITY, MODES, resolve_caller
from chatapi.limits import LimitsUnavailable, Reservation, StreamSlot, UsageLimits
from chatapi.metering import DEFAULT_NAMESPACE, METRICS_NAMESPACE, Meter
from chatapi.settings import Settings, SettingsError

USAGE_TABLE_NAME = "USAGE_TABLE_NAME"
DAILY_TOKEN_BUDGET = "DAILY_TOKEN_BUDGET"  # noqa: S105 - an environment variable name, not a secret
MAX_STREAMS_PER_CALLER = "MAX_STREAMS_PER_CALLER"
MAX_REQUESTS_PER_CALLER = "MAX_REQUESTS_PER_CALLER"
REQUESTS_PER_MINUTE_PER_CALLER = "REQUESTS_PER_MINUTE_PER_CALLER"
CALLER_KEY = "CALLER_KEY"
CALLER_KEYS = ("role", "session")
# Tokens a chat template adds around each message and the whole prompt (role markers, BOS): an upper bound for the
# templates of the catalog (chatml: 5 per message); a prompt's text tokenizes into at most one token per UTF-8 byte.
TEMPLATE_TOKENS_PER_MESSAGE = 8
TEMPLATE_TOKENS = 16
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
    max_requests_per_caller: int | None = None
    requests_per_minute: int | None = None
    caller_key: str = "role"

    @property
    def limited(self) -> bool:
        return any(
            v is not None
            for v in (
                self.daily_token_budget,
                self.max_streams_per_caller,
                self.max_requests_per_caller,
                self.requests_per_minute,
            )
        )


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
    requests = _optional_int(env, MAX_REQUESTS_PER_CALLER)
    rate = _optional_int(env, REQUESTS_PER_MINUTE_PER_CALLER)
    key = env.get(CALLER_KEY, "").strip() or "role"
    if key not in CALLER_KEYS:
        raise SettingsError(f"{CALLER_KEY}={key!r} is not supported; expected one of {list(CALLER_KEYS)} or unset")
    settings = UsageSettings(mode, namespace, table, budget, streams, requests, rate, key)
    if table is None and settings.limited:
        raise SettingsError(
            f"{DAILY_TOKEN_BUDGET}, {MAX_STREAMS_PER_CALLER}, {MAX_REQUESTS_PER_CALLER} and "
            f"{REQUESTS_PER_MINUTE_PER_CALLER} need {USAGE_TABLE_NAME}"
        )
    return settings


@dataclass(frozen=True, slots=True)
class Cost:
    """What a model request may cost: its prompt's estimated tokens and the most it may generate."""

    prompt_tokens: int
    max_new_tokens: int
    sequences: int = 1

    @property
    def worst_case(self) -> int:
        return self.prompt_tokens + self.max_new_tokens * max(self.sequences, 1)

    @classmethod
    def of(
        cls, text: str, max_new_tokens: int | None, settings: Settings, *, sequences: int = 1, messages: int = 1
    ) -> Cost:
        """The cost of a prompt ``text`` (``messages`` turns) generating ``max_new_tokens`` per sequence.

        The estimate is an upper bound that the engines make exact: at most one token per UTF-8 byte plus the
        template's tokens, and never more than the context leaves once the answer is reserved (both engines
        refuse a prompt whose tokens plus ``max_tokens`` exceed ``MAX_TOTAL_TOKENS``, TGI also one over
        ``MAX_INPUT_TOKENS``). ``max_new_tokens=None`` reserves the whole context (the answer may fill it)."""
        estimate = len(text.encode("utf-8")) + TEMPLATE_TOKENS + TEMPLATE_TOKENS_PER_MESSAGE * max(messages, 1)
        if max_new_tokens is None:
            # "The rest of the context": each sequence's prompt + answer <= MAX_TOTAL_TOKENS. One sequence: the
            # context. Several: a shorter real prompt leaves each more room, so reserve the context for each.
            prompt = min(estimate, settings.max_total_tokens)
            per_sequence = settings.max_total_tokens - (prompt if sequences <= 1 else 0)
            return cls(prompt, per_sequence, sequences)
        bound = settings.max_total_tokens - max_new_tokens
        if settings.engine == "tgi":
            bound = min(bound, settings.max_input_tokens)
        return cls(max(0, min(estimate, bound)), max_new_tokens, sequences)


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


def all_generated_tokens(details: Any) -> int | None:
    """Tokens TGI generated for an answer: the chosen sequence's and, with ``best_of`` > 1, every other
    candidate's (``details.best_of_sequences[].generated_tokens``, router/src/lib.rs ``BestOfSequence``)."""
    if not isinstance(details, dict) or not isinstance(details.get("generated_tokens"), int):
        return None
    others = details.get("best_of_sequences")
    extra = sum(
        s["generated_tokens"]
        for s in (others if isinstance(others, list) else [])
        if isinstance(s, dict) and isinstance(s.get("generated_tokens"), int)
    )
    return int(details["generated_tokens"]) + extra


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
    """One metered model request of ``caller``: its reservation, its slots, and what it used."""

    def __init__(
        self,
        usage: Usage,
        caller: str,
        slots: list[StreamSlot] | None = None,
        *,
        cost: Cost | None = None,
        reservation: Reservation | None = None,
        model: str | None = None,
    ) -> None:
        self.caller = caller
        self.model = model  # the served model metered (None: the deployment's)
        self._usage = usage
        self._slots = slots or []
        self.cost = cost or Cost(0, 0)
        self.reservation = reservation
        self._lock = threading.Lock()
        self.finished = False
        self.streamed_tokens = 0
        # Whether the engine sent anything: then the prompt was processed and is charged however the request ends.
        self.engine_answered = False

    def finish(self, *, prompt_tokens: int | None = None, completion_tokens: int = 0) -> None:
        """Meter and charge the tokens (``prompt_tokens=None``: the engine gave no count, charge the admission
        estimate), settle the reservation and release the slots; only the first call counts."""
        if prompt_tokens is None or prompt_tokens <= 0:
            prompt_tokens = self.cost.prompt_tokens
        self._settle_once(prompt_tokens, max(completion_tokens, 0))

    def finish_partial(self) -> None:
        """The answer ended without the engine's counts. Once the engine answered anything, the prompt (as
        estimated at admission) and the tokens streamed so far; before that, nothing (it never ran the prompt or
        refused it)."""
        if self.engine_answered or self.streamed_tokens:
            self.finish(prompt_tokens=None, completion_tokens=self.streamed_tokens)
        else:
            self._settle_once(0, 0)

    def _settle_once(self, prompt_tokens: int, completion_tokens: int) -> None:
        with self._lock:
            if self.finished:
                return
            self.finished = True
        self._usage.settle(self, prompt_tokens, completion_tokens)

    def watch(
        self, events: Iterable[tuple[str, dict[str, Any] | None]], *, keep_details: bool = True
    ) -> Iterator[tuple[str, dict[str, Any] | None]]:
        """Pass TGI stream events through, counting tokens; finish from the final event's details.

        ``keep_details=False``: the details were asked of TGI for metering only, so they are taken out of the
        final event (the client gets the event it asked for)."""
        for data, event in events:
            self.engine_answered = True
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
            self.engine_answered = True
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
        if settings.table_name and settings.limited:
            config = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "total_max_attempts": 3})
            # botocore directly, as the SageMaker client (backend.make_client): boto3 only adds start-up time.
            client = botocore.session.get_session().create_client("dynamodb", region_name=region, config=config)
            limits = UsageLimits(
                client,
                settings.table_name,
                daily_token_budget=settings.daily_token_budget,
                max_streams=settings.max_streams_per_caller,
                max_requests=settings.max_requests_per_caller,
                requests_per_minute=settings.requests_per_minute,
            )
        return cls(settings, model, limits=limits, logger=logger)

    def _unavailable(self, what: str, exc: LimitsUnavailable) -> None:
        if self._logger is not None:
            self._logger.error("usage limits unavailable", extra={"operation": what, "error_code": str(exc)})

    def start(self, request: Request, *, stream: bool, cost: Cost, model: str | None = None) -> Ticket:
        """Admit a model request that may cost ``cost`` (429 ApiError when over a limit: nothing is then held);
        the ticket is kept on the request's state, where the middleware finishes it if the route does not."""
        caller = resolve_caller(
            dict(request.scope["headers"]),
            self.settings.caller_identity,
            keep_session=self.settings.caller_key == "session",
        )
        slots: list[StreamSlot] = []
        reservation = None
        if self.limits is not None:
            try:
                reservation = self._admit(caller, stream, cost, slots)
            except BaseException:
                self._release(slots)
                raise
        ticket = Ticket(self, caller, slots, cost=cost, reservation=reservation, model=model)
        request.scope.setdefault("state", {})[STATE_KEY] = ticket
        return ticket

    def _admit(self, caller: str, stream: bool, cost: Cost, slots: list[StreamSlot]) -> Reservation | None:
        """The limits in order (rate, request slot, stream slot, budget); each one DynamoDB cannot answer is
        skipped (fail open, logged), the others still apply."""
        assert self.limits is not None
        limits = self.limits
        steps: list[tuple[str, Callable[[], Any]]] = [
            ("count_request", lambda: limits.count_request(caller)),
            ("acquire_request", lambda: limits.acquire_request(caller)),
            ("acquire_stream", lambda: limits.acquire_stream(caller) if stream else None),
            ("reserve", lambda: limits.reserve(caller, cost.worst_case)),
        ]
        reservation = None
        for name, step in steps:
            try:
                result = step()
            except LimitsUnavailable as exc:
                self._unavailable(name, exc)
                if name == "reserve" and limits.daily_token_budget is not None:
                    reservation = limits.unreserved(caller)  # still charge what it uses, if DynamoDB is back by then
                continue
            if isinstance(result, StreamSlot):
                slots.append(result)
            elif isinstance(result, Reservation):
                reservation = result
        return reservation

    def _release(self, slots: list[StreamSlot]) -> None:
        assert self.limits is not None or not slots
        for slot in slots:
            try:
                self.limits.release_stream(slot)  # type: ignore[union-attr]
            except LimitsUnavailable as exc:
                self._unavailable("release_slot", exc)

    def settle(self, ticket: Ticket, prompt_tokens: int, completion_tokens: int) -> None:
        self.meter.record(
            ticket.caller, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, model=ticket.model
        )
        if self.limits is None:
            return
        if ticket.reservation is not None:
            try:
                self.limits.settle(ticket.reservation, prompt_tokens + completion_tokens)
            except LimitsUnavailable as exc:
                self._unavailable("settle", exc)
        self._release(ticket._slots)


async def finish_pending(scope: Scope) -> None:
    """Finish a ticket the request left open (errors, disconnects), off the event loop."""
    ticket = scope.get("state", {}).get(STATE_KEY)
    if isinstance(ticket, Ticket) and not ticket.finished:
        await anyio.to_thread.run_sync(ticket.finish_partial)
