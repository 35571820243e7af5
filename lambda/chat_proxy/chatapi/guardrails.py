"""Amazon Bedrock Guardrails in front of the model: the prompt is checked before the model is called, the answer
before the client sees it (``GUARDRAIL_ID`` and ``GUARDRAIL_VERSION``; unset: no guardrail).

Every check is one ApplyGuardrail call through botocore's ``bedrock-runtime`` client, so
``AWS_ENDPOINT_URL_BEDROCK_RUNTIME`` can point it at a stand-in. Request and response shapes are botocore's
``bedrock-runtime`` service model (``ApplyGuardrailRequest``: ``source`` INPUT | OUTPUT, ``content`` a list of
``{"text": {"text": ...}}`` blocks; ``ApplyGuardrailResponse``: ``action`` NONE | GUARDRAIL_INTERVENED, ``outputs``
the guardrail's text to show instead, ``usage`` the text units each policy processed).

The checks run in one place, ``routes.calls.CallRunner.run``, for every model route (chat, completions,
``/generate``, and Responses through chat): the engine seam's ``Call`` names what the caller wrote
(``Call.said``) and the shape of its answer and stream (``Call.shape``).

* Input: every text the caller sent (each message, the prompt) is one content block of one INPUT check, after the
  request is validated and admitted (limits) and before the model is called. Intervened: 400 in OpenAI's shape
  with the guardrail's blocked-input message, ``code: content_filter``; the model is never called, so no token
  is charged, only the check. A prompt of token ids cannot be checked and is refused while a guardrail is on.
* Output, non-stream: the whole answer is one OUTPUT check; intervened, each choice's text is the guardrail's
  output (its blocked-output message, or the masked text) and ``finish_reason`` is ``content_filter``.
* Output, streams: the proxy holds the stream's events until their text fills a window of ``WINDOW_CHARS``, checks
  that window, and only then passes the held events on; the last partial window is checked before the stream's
  end. Intervened: the held window is dropped, the guardrail's output is sent as the last text with
  ``finish_reason: content_filter`` (``/generate``: a TGI error event of type ``content_filter``), and the
  stream ends. Nothing of a blocked window reaches the client; text of earlier windows already did.
* The window is 1,000 characters: ApplyGuardrail bills text units of up to 1,000 characters each, so a smaller
  window costs the same per check and more checks per answer, a larger one delays the first text longer and
  bills a second unit ("Amazon Bedrock pricing", aws.amazon.com/bedrock/pricing: Guardrails, text unit).
* Fail closed: when Bedrock cannot answer (throttling, 5xx, access denied, a guardrail that does not exist) the
  request fails with 503 (or 502 for a configuration error) before the model is called, and a stream ends with
  an error event. A guardrail the operator configured is a policy; passing text it has not checked would void it
  silently. The message names Bedrock's error code, never the request text.
* Metering: the text units of every check are written as one EMF record per request (``Meter.record_guardrail``),
  next to the request's token record. Prompts and answers are never logged here.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from chatapi.errors import ApiError
from chatapi.settings import SettingsError

GUARDRAIL_ID = "GUARDRAIL_ID"
GUARDRAIL_VERSION = "GUARDRAIL_VERSION"
# botocore bedrock-runtime shapes GuardrailIdentifier (an id or a guardrail ARN) and GuardrailVersion (a number or
# DRAFT); the empty alternative of both patterns is left out: a guardrail must be named.
IDENTIFIER = re.compile(r"^(([a-z0-9]+)|(arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:guardrail/[a-z0-9]+))$")
VERSION = re.compile(r"^(([1-9][0-9]{0,7})|(DRAFT))$")
# One ApplyGuardrail text unit ("Amazon Bedrock pricing": a text unit holds up to 1,000 characters).
WINDOW_CHARS = 1000
INTERVENED = "GUARDRAIL_INTERVENED"
CONTENT_FILTER = "content_filter"
DEFAULT_BLOCKED_INPUT = "The request was blocked by the deployment's guardrail."
DEFAULT_BLOCKED_OUTPUT = "The answer was blocked by the deployment's guardrail."
# Bedrock errors that are worth a retry (ApplyGuardrail's errors in botocore's bedrock-runtime model): 503.
RETRYABLE = ("ThrottlingException", "ServiceUnavailableException", "InternalServerException",
             "ServiceQuotaExceededException")  # fmt: skip
RETRY_AFTER_SECONDS = "2"
# Billed policies of GuardrailUsage (the free PII units are not billed).
BILLED_UNITS = (
    "topicPolicyUnits",
    "contentPolicyUnits",
    "wordPolicyUnits",
    "sensitiveInformationPolicyUnits",
    "contextualGroundingPolicyUnits",
    "automatedReasoningPolicyUnits",
)


@dataclass(frozen=True, slots=True)
class GuardrailSettings:
    identifier: str
    version: str


def load_guardrail_settings(env: Mapping[str, str] | None = None) -> GuardrailSettings | None:
    """``GUARDRAIL_ID`` and ``GUARDRAIL_VERSION`` from ``env`` (both or neither); ``SettingsError`` otherwise."""
    env = os.environ if env is None else env
    identifier = env.get(GUARDRAIL_ID, "").strip()
    version = env.get(GUARDRAIL_VERSION, "").strip()
    if not identifier and not version:
        return None
    if not identifier or not version:
        raise SettingsError(f"{GUARDRAIL_ID} and {GUARDRAIL_VERSION} go together: set both or neither")
    if not IDENTIFIER.fullmatch(identifier):
        raise SettingsError(f"{GUARDRAIL_ID}={identifier!r} is not a guardrail id or ARN")
    if not VERSION.fullmatch(version):
        raise SettingsError(f"{GUARDRAIL_VERSION}={version!r} is not a guardrail version (1-99999999 or DRAFT)")
    return GuardrailSettings(identifier, version)


def make_guardrail_client(region: str | None) -> Any:
    # botocore directly, like the SageMaker client (backend.make_client): the same credentials, environment and
    # endpoint resolution (AWS_ENDPOINT_URL_BEDROCK_RUNTIME) without boto3's start-up time.
    config = Config(connect_timeout=2, read_timeout=10, retries={"mode": "standard", "total_max_attempts": 2})
    return botocore.session.get_session().create_client("bedrock-runtime", region_name=region, config=config)


@dataclass(frozen=True, slots=True)
class Verdict:
    intervened: bool
    output: str | None  # the guardrail's text: its blocked message, or the masked text
    units: int


def billed_units(usage: Any) -> int:
    if not isinstance(usage, dict):
        return 0
    return sum(int(usage.get(name) or 0) for name in BILLED_UNITS)


def _service_error(exc: Exception) -> ApiError:
    code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else type(exc).__name__
    if code in RETRYABLE or not isinstance(exc, ClientError):
        return ApiError(
            503,
            f"The guardrail could not check this request ({code}); retry later.",
            type="service_unavailable",
            code="guardrail_unavailable",
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )
    # AccessDenied, ResourceNotFound, Validation: the deployment's guardrail set-up, not the caller, is at fault.
    return ApiError(
        502, f"The guardrail could not check this request ({code}).", type="upstream_error", code="guardrail_error"
    )


class Guardrail:
    """One configured guardrail; ``check(caller)`` starts a request's checks."""

    def __init__(self, client: Any, settings: GuardrailSettings, meter: Any = None, logger: Any = None) -> None:
        self.client = client
        self.settings = settings
        self.meter = meter
        self.logger = logger

    def apply(self, source: str, texts: Iterable[str]) -> Verdict:
        content = [{"text": {"text": t}} for t in texts if t]
        if not content:
            return Verdict(False, None, 0)
        try:
            answer = self.client.apply_guardrail(
                guardrailIdentifier=self.settings.identifier,
                guardrailVersion=self.settings.version,
                source=source,
                content=content,
            )
        except (ClientError, BotoCoreError) as exc:
            error = _service_error(exc)
            if self.logger is not None:
                self.logger.error("guardrail check failed", extra={"source": source, "error_code": error.message})
            raise error from None
        outputs = [o.get("text", "") for o in answer.get("outputs") or [] if isinstance(o, dict)]
        output = "\n".join(t for t in outputs if t) or None
        return Verdict(answer.get("action") == INTERVENED, output, billed_units(answer.get("usage")))

    def check(self, caller: str) -> Check:
        return Check(self, caller)


@dataclass
class Check:
    """The guardrail checks of one request, and the text units they used."""

    guardrail: Guardrail | None
    caller: str = "local"
    units: int = 0
    interventions: int = 0
    recorded: bool = field(default=False, repr=False)

    def _apply(self, source: str, texts: Iterable[str]) -> Verdict:
        assert self.guardrail is not None
        verdict = self.guardrail.apply(source, texts)
        self.units += verdict.units
        self.interventions += int(verdict.intervened)
        return verdict

    def record(self) -> None:
        """Write the request's guardrail usage once (nothing without a guardrail)."""
        if self.recorded or self.guardrail is None:
            return
        self.recorded = True
        if self.guardrail.meter is not None:
            self.guardrail.meter.record_guardrail(self.caller, text_units=self.units, interventions=self.interventions)

    def input(self, texts: Iterable[str] | None, *, param: str) -> None:
        """Check what the caller sent before the model sees it: 400 ``content_filter`` when the guardrail blocks;
        ``texts`` None (a prompt of token ids): 400, a text guardrail cannot read it."""
        if self.guardrail is None:
            return
        if texts is None:
            raise ApiError(
                400,
                "This deployment checks prompts with a guardrail, which reads text: send the prompt as text, not "
                "token ids.",
                param=param,
                code="unsupported_parameter",
            )
        try:
            verdict = self._apply("INPUT", [t for t in texts if t])
        except ApiError:
            self.record()
            raise
        if verdict.intervened:
            self.record()
            raise ApiError(400, verdict.output or DEFAULT_BLOCKED_INPUT, param=param, code=CONTENT_FILTER)

    def output(self, texts: list[str]) -> str | None:
        """Check a whole answer: None when it passes, else the guardrail's text to answer instead."""
        if self.guardrail is None:
            return None
        try:
            verdict = self._apply("OUTPUT", texts)
        finally:
            self.record()
        return (verdict.output or DEFAULT_BLOCKED_OUTPUT) if verdict.intervened else None

    def openai_answer(self, body: dict[str, Any]) -> dict[str, Any]:
        """A ``chat.completion`` or ``text_completion`` body, checked; blocked: each choice says the guardrail's text
        and finishes with ``content_filter`` (tool calls are model output too: they are dropped)."""
        if self.guardrail is None:
            return body
        choices = [c for c in body.get("choices") or [] if isinstance(c, dict)]
        replacement = self.output(["".join(_choice_texts(c)) for c in choices])
        if replacement is None:
            return body
        for choice in choices:
            if isinstance(choice.get("message"), dict):
                choice["message"] = {"role": "assistant", "content": replacement, "refusal": None}
            else:
                choice["text"] = replacement
                choice["logprobs"] = None
            choice["finish_reason"] = CONTENT_FILTER
        return body

    def tgi_answer(self, items: list[Any]) -> list[Any]:
        """``/generate``'s ``[{"generated_text", ...}]``, checked; blocked: the guardrail's text, finish
        ``content_filter`` in the details when there are any."""
        if self.guardrail is None:
            return items
        dicts = [i for i in items if isinstance(i, dict)]
        replacement = self.output([str(i.get("generated_text") or "") for i in dicts])
        if replacement is None:
            return items
        for item in dicts:
            item["generated_text"] = replacement
            if isinstance(item.get("details"), dict):
                item["details"] = {**item["details"], "finish_reason": CONTENT_FILTER, "tokens": []}
        return items

    def answer(self, body: Any, shape: str, outcome: Any = None) -> Any:
        """A whole answer of ``shape`` (``chat``/``completions``: OpenAI's body; ``generate``: TGI's list), checked;
        blocked: the guardrail's text instead, noted on ``outcome`` (the call's StreamOutcome, for its log line)."""
        if self.guardrail is None or shape == "embeddings":  # vectors: no text to check
            return body
        interventions = self.interventions
        checked = self.tgi_answer(body) if shape == "generate" else self.openai_answer(body)
        if self.interventions > interventions and outcome is not None:
            outcome.finish_reason = CONTENT_FILTER
        return checked

    def stream(self, chunks: Iterator[bytes], shape: str, outcome: Any = None) -> Iterator[bytes]:
        """SSE ``chunks`` of ``shape`` (``chat``, ``completions``, ``generate``) checked window by window; a
        blocked or failed check is noted on ``outcome`` (the call's StreamOutcome, for its log line)."""
        if self.guardrail is None:
            return chunks
        return _GuardedStream(self, chunks, shape, outcome).run()


NO_GUARDRAIL = Check(None)


def _choice_texts(choice: dict[str, Any]) -> list[str]:
    """The model's text in an OpenAI choice or chunk choice: content, reasoning, tool-call arguments, text."""
    texts: list[str] = []
    for holder in (choice.get("message"), choice.get("delta")):
        if isinstance(holder, dict):
            for key in ("content", "reasoning_content", "reasoning"):
                if isinstance(holder.get(key), str):
                    texts.append(holder[key])
            for call in holder.get("tool_calls") or []:
                function = call.get("function") if isinstance(call, dict) else None
                if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                    texts.append(function["arguments"])
    if isinstance(choice.get("text"), str):
        texts.append(choice["text"])
    return texts


@dataclass
class _Event:
    raw: bytes
    data: dict[str, Any] | None
    terminal: bool


class _GuardedStream:
    def __init__(self, check: Check, chunks: Iterator[bytes], shape: str, outcome: Any = None) -> None:
        self.check = check
        self.outcome = outcome
        self.chunks = chunks
        self.shape = shape
        self.base: dict[str, Any] | None = None
        self.indexes: list[int] = []

    def _events(self) -> Iterator[_Event]:
        pending = b""
        for chunk in self.chunks:
            pending += chunk
            while True:
                # Events end with a blank line (the proxy writes "\n\n"; tolerate "\r\n\r\n").
                cut = min((i for i in (pending.find(b"\n\n"), pending.find(b"\r\n\r\n")) if i >= 0), default=-1)
                if cut < 0:
                    break
                end = cut + (4 if pending[cut : cut + 4] == b"\r\n\r\n" else 2)
                yield self._event(pending[:end])
                pending = pending[end:]
        if pending.strip():
            yield self._event(pending)

    def _event(self, raw: bytes) -> _Event:
        payload = b"".join(
            line.partition(b":")[2].lstrip(b" ") for line in raw.splitlines() if line.startswith(b"data:")
        ).strip()
        if payload == b"[DONE]":
            return _Event(raw, None, True)
        try:
            data = json.loads(payload) if payload else None
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return _Event(raw, None, False)
        terminal = "error" in data or (self.shape == "generate" and data.get("generated_text") is not None)
        if self.shape != "generate" and "id" in data and self.base is None:
            self.base = {k: data[k] for k in ("id", "object", "created", "model") if k in data}
        return _Event(raw, data, terminal)

    def _text(self, event: _Event) -> str:
        data = event.data
        if data is None or "error" in data:
            return ""
        if self.shape == "generate":
            token = data.get("token")
            if isinstance(token, dict) and not token.get("special") and isinstance(token.get("text"), str):
                return str(token["text"])
            return ""
        texts: list[str] = []
        for choice in data.get("choices") or []:
            if isinstance(choice, dict):
                index = choice.get("index", 0)
                if isinstance(index, int) and index not in self.indexes:
                    self.indexes.append(index)
                texts.extend(_choice_texts(choice))
        return "".join(texts)

    def run(self) -> Iterator[bytes]:
        held: list[bytes] = []
        text = ""
        try:
            for event in self._events():
                piece = self._text(event)
                if not held and not piece and not event.terminal:
                    # Nothing to check and nothing held before it (the role chunk, keep-alives): send it now.
                    yield event.raw
                    continue
                if piece and text and len(text) + len(piece) > WINDOW_CHARS:
                    # The window is full: check it before this event's text joins the next one.
                    ending = self._verdict(text)
                    if ending is not None:
                        yield from ending
                        return
                    yield from held
                    held, text = [], ""
                held.append(event.raw)
                text += piece
                if event.terminal:
                    ending = self._verdict(text) if text else None
                    if ending is not None:
                        yield from ending
                        return
                    # The stream's end: record before the last bytes leave (a Lambda may be frozen after them).
                    self.check.record()
                    yield from held
                    held, text = [], ""
            if text:
                ending = self._verdict(text)
                if ending is not None:
                    yield from ending
                    return
            self.check.record()
            yield from held
        finally:
            self.check.record()
            close = getattr(self.chunks, "close", None)
            if close is not None:
                close()

    def _verdict(self, text: str) -> list[bytes] | None:
        """None when ``text`` passes; else the events that end the stream instead of it."""
        try:
            verdict = self.check._apply("OUTPUT", [text])
        except ApiError as error:
            self.check.record()
            if self.outcome is not None:
                self.outcome.error_code = error.code
            return self._error(error)
        if not verdict.intervened:
            return None
        self.check.record()
        if self.outcome is not None:
            self.outcome.finish_reason = CONTENT_FILTER
        return self._blocked(verdict.output or DEFAULT_BLOCKED_OUTPUT)

    def _error(self, error: ApiError) -> list[bytes]:
        if self.shape == "generate":
            return [_sse({"error": error.message, "error_type": error.code}, tgi=True)]
        return [_sse(error.body()), b"data: [DONE]\n\n"]

    def _blocked(self, message: str) -> list[bytes]:
        if self.shape == "generate":
            return [_sse({"error": message, "error_type": CONTENT_FILTER}, tgi=True)]
        chat = self.shape == "chat"
        base = self.base or {
            "id": f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex}",
            "object": "chat.completion.chunk" if chat else "text_completion",
            "created": int(time.time()),
        }
        choices = []
        for index in self.indexes or [0]:
            choice: dict[str, Any] = {"index": index, "logprobs": None, "finish_reason": CONTENT_FILTER}
            if chat:
                choice["delta"] = {"content": message}
            else:
                choice["text"] = message
            choices.append(choice)
        return [_sse({**base, "choices": choices}), b"data: [DONE]\n\n"]


def _sse(obj: Any, *, tgi: bool = False) -> bytes:
    prefix = b"data:" if tgi else b"data: "
    return prefix + json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


def guardrail_from_env(region: str | None, meter: Any, logger: Any = None) -> Guardrail | None:
    """The guardrail ``GUARDRAIL_ID``/``GUARDRAIL_VERSION`` name, with its client; None when unset."""
    settings = load_guardrail_settings()
    if settings is None:
        return None
    return Guardrail(make_guardrail_client(region), settings, meter, logger)
