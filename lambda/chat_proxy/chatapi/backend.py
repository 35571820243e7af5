"""The SageMaker runtime backend: InvokeEndpoint and InvokeEndpointWithResponseStream, with faults mapped.

Retries are ours, not botocore's: botocore's standard mode also retries read timeouts, which for a generation
that already ran for BACKEND_READ_TIMEOUT_SECONDS would start it again (and outlive the Lambda). We retry, with
jittered exponential back-off, only failures where the model did not run (throttling, service unavailable,
internal failure of the service, connection refused or connect timeout), and only while opening the call —
nothing has been sent to our client yet then. A stream is never retried once its events are being read.
"""

from __future__ import annotations

import contextlib
import copy
import json
import random
import socket
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import botocore.session
import urllib3.exceptions
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from chatapi.active_hours import ActiveHours
from chatapi.errors import ApiError
from chatapi.settings import Settings
from chatapi.sse import SseParser

if TYPE_CHECKING:
    from chatapi.wake import Waker

RETRYABLE_CODES = frozenset({"ThrottlingException", "ServiceUnavailable", "InternalFailure"})
RETRY_AFTER_SECONDS = "1"
# With no copy of the inference component running, SageMaker answers ValidationError (HTTP 400) "Inference
# Component has no capacity to process this request. ApplicationAutoScaling may be in-progress ..." (AWS docs,
# "Scale an endpoint to zero instances"). The wake-up alarm then adds a copy: an instance starts and loads the
# weights, about ten minutes (AWS samples measured ~9.5 min for a small model on ml.g5.xlarge).
NO_CAPACITY_TEXT = "has no capacity to process this request"
STARTING_RETRY_AFTER_SECONDS = "60"
STARTING_MESSAGE = (
    "The model is scaled to zero and is starting; this usually takes about 10 minutes. Retry after the "
    "Retry-After seconds. (A deployment with active hours starts only inside them.)"
)
MAX_MESSAGE_CHARS = 2000
# SageMaker's limits on one invocation (docs/limits.md): InvokeEndpoint "A customer's model containers must respond
# to requests within 60 seconds" (API reference, InvokeEndpoint); InvokeEndpointWithResponseStream 8 minutes (SageMaker
# FAQ; "Use your own inference code with hosting services"). Past the stream's, SageMaker sends ModelStreamError with
# ErrorCode ModelInvocationTimeExceeded, "The model failed to finish sending the response within the timeout period
# allowed by Amazon SageMaker AI" (botocore shape ModelStreamError); botocore keeps only its Message, "Your model
# primary did not complete sending the inference response in the allotted time." The infrastructure's timeouts
# come from the same numbers (constructs/api/time_limits.py; a test checks they agree).
INVOKE_TIME_LIMIT_SECONDS = 60
STREAM_TIME_LIMIT_SECONDS = 8 * 60
STREAM_TIME_LIMIT_TEXTS = ("allotted time", "modelinvocationtimeexceeded")
# Prefix-aware routing (-c routing_strategy=prefix_aware) routes by "the number of bytes from the beginning of the
# request body" (PrefixAwareRoutingConfig.PrefixLength, botocore sagemaker 2017-07-24; SageMaker API reference
# "PrefixAwareRoutingConfig"). So the conversation goes first, and what changes from call to call (max_tokens,
# stream, temperature, seed, ...) after it: the next turn of a conversation then starts with the same bytes as the
# last, up to the end of the messages they share, and lands on the instance whose prefix cache holds them. JSON
# key order means nothing to vLLM or TGI. No PrefixAwareId (X-Amzn-SageMaker-Prefix-Aware-Id) is sent: it tells
# apart different applications on one endpoint, and each stack's endpoint serves this one API.
PREFIX_FIELDS = ("messages", "prompt", "input", "inputs")
INVOKE_TIME_LIMIT_TEXTS = ("invocation timed out",)


def time_limit_error() -> ApiError:
    """SageMaker cut the generation at its 8-minute limit for one streamed invocation."""
    return ApiError(
        504,
        f"The generation hit SageMaker's {STREAM_TIME_LIMIT_SECONDS // 60}-minute limit for one invocation and was "
        "cut off. Ask for fewer tokens (a lower max_tokens / max_new_tokens), or stream (stream: true) to receive "
        "the text generated before the limit.",
        type="timeout_error",
        code="generation_time_limit",
    )


def make_client(settings: Settings) -> Any:
    config = Config(
        connect_timeout=settings.backend_connect_timeout_seconds,
        read_timeout=settings.backend_read_timeout_seconds,
        retries={"mode": "standard", "total_max_attempts": 1},
        max_pool_connections=64,
        tcp_keepalive=True,
    )
    # botocore's session directly: boto3 adds nothing for one low-level client but ~100 ms of start-up (its own
    # Session and s3transfer imports; bench/bench_runtime.py). Same credentials, env and endpoint resolution.
    session = botocore.session.get_session()
    return session.create_client("sagemaker-runtime", region_name=settings.aws_region, config=config)


def _parse_json(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def map_exception(exc: BaseException) -> ApiError:
    """An ApiError whose status says whose fault ``exc`` was; messages never carry internals."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, ClientError):
        return _map_client_error(exc)
    if isinstance(exc, ConnectTimeoutError | ReadTimeoutError | urllib3.exceptions.TimeoutError | socket.timeout):
        return ApiError(504, "The model endpoint did not answer in time.", type="timeout_error", code="timeout")
    if isinstance(exc, EndpointConnectionError | ConnectionClosedError):
        return ApiError(
            502, "Could not reach the SageMaker runtime.", type="upstream_error", code="backend_unreachable"
        )
    if isinstance(exc, BotoCoreError | urllib3.exceptions.HTTPError | OSError):
        return ApiError(502, "The call to the model endpoint failed.", type="upstream_error", code="backend_error")
    return ApiError(502, "The call to the model endpoint failed.", type="upstream_error", code="backend_error")


def _map_client_error(exc: ClientError) -> ApiError:
    error = exc.response.get("Error", {})
    code = error.get("Code", "")
    message = error.get("Message", "") or ""
    if code == "ModelError":
        original = exc.response.get("OriginalStatusCode", error.get("OriginalStatusCode"))
        original_message = str(exc.response.get("OriginalMessage", error.get("OriginalMessage")) or message)
        if any(text in original_message.lower() for text in INVOKE_TIME_LIMIT_TEXTS):
            return ApiError(
                504,
                f"The model did not answer within SageMaker's {INVOKE_TIME_LIMIT_SECONDS}-second limit for a "
                "non-streamed invocation; ask for fewer tokens.",
                type="timeout_error",
                code="invocation_time_limit",
            )
        status = int(original) if str(original).isdigit() else None
        parsed = _parse_json(original_message)
        if isinstance(parsed, dict) and ("error" in parsed or "message" in parsed):
            return engine_error(parsed, status)
        return status_error(status, original_message[:MAX_MESSAGE_CHARS])
    if code in ("ThrottlingException", "TooManyRequestsException"):
        return ApiError(
            429,
            "Too many requests to the model endpoint; retry later.",
            type="rate_limit_error",
            code="throttled",
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )
    if code in ("ServiceUnavailable", "ModelNotReadyException"):
        return ApiError(
            503,
            "The model endpoint is not ready; retry later.",
            type="service_unavailable",
            code="endpoint_not_ready",
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )
    if code in ("ValidationError", "ValidationException") and NO_CAPACITY_TEXT in message.lower():
        return ApiError(
            503,
            STARTING_MESSAGE,
            type="service_unavailable",
            code="model_starting",
            headers={"Retry-After": STARTING_RETRY_AFTER_SECONDS},
        )
    if code in ("ValidationError", "ValidationException") and "endpoint" in message.lower():
        lowered = message.lower()
        if "not found" in lowered or "service" in lowered or "status" in lowered:
            return ApiError(
                503,
                "The model endpoint does not exist or is not InService.",
                type="service_unavailable",
                code="endpoint_unavailable",
            )
    if code == "ModelStreamError" and any(text in message.lower() for text in STREAM_TIME_LIMIT_TEXTS):
        return time_limit_error()
    if code in ("ModelStreamError", "InternalStreamFailure"):
        return ApiError(502, "The model stream failed.", type="upstream_error", code="stream_error")
    return ApiError(502, "The model endpoint rejected the call.", type="upstream_error", code="backend_error")


def _is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code") in RETRYABLE_CODES
    return isinstance(exc, EndpointConnectionError | ConnectTimeoutError) and not isinstance(exc, ReadTimeoutError)


def status_error(status: int | None, message: str, param: str | None = None) -> ApiError:
    """The ApiError for an engine error with HTTP ``status`` (the engine's own status, not SageMaker's)."""
    if status in (400, 413, 422):
        return ApiError(400, message, param=param, code="model_validation_error")
    if status == 429:
        return ApiError(
            429,
            "The model is overloaded; retry later.",
            type="rate_limit_error",
            code="model_overloaded",
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )
    if status == 404:
        # vLLM answers 404 when the request's model is not its served name (SM_VLLM_SERVED_MODEL_NAME): a
        # deployment mismatch with MODEL_ID, not the caller's fault.
        return ApiError(
            502,
            f"The model endpoint does not serve this model: {message}",
            type="upstream_error",
            code="model_mismatch",
        )
    if status == 503:
        return ApiError(
            503,
            "The model endpoint is not ready; retry later.",
            type="service_unavailable",
            code="endpoint_not_ready",
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )
    return ApiError(502, f"The model failed: {message}", type="upstream_error", code="model_error")


TGI_ERROR_STATUS = {"validation": 422, "overloaded": 429, "tool_error": 422, "template_error": 422}


def engine_error(body: dict[str, Any], status: int | None = None) -> ApiError:
    """The ApiError for an engine's error body or stream event, in any of the engines' shapes.

    - TGI (``router/src/lib.rs`` ErrorResponse, v3.3.6): ``{"error": "...", "error_type": "validation"}``;
    - TGI's chat stream (``router/src/infer/mod.rs`` OpenaiErrorEvent): ``{"error": {"message", "http_status_code"}}``;
    - vLLM (``vllm/entrypoints/openai/engine/protocol.py`` ErrorResponse): ``{"error": {"message", "type", "param",
      "code": <HTTP status>}}``; before 0.10 the same fields flat, with ``"object": "error"``.
    """
    inner = body.get("error")
    if isinstance(inner, str):
        # The HTTP status (a ModelError's OriginalStatusCode) wins; in a stream only error_type tells.
        kind_status = TGI_ERROR_STATUS.get(str(body.get("error_type")), 424)
        return status_error(status if status is not None else kind_status, inner[:MAX_MESSAGE_CHARS])
    detail = inner if isinstance(inner, dict) else body
    message = str(detail.get("message") or "model error")[:MAX_MESSAGE_CHARS]
    code = detail.get("http_status_code", detail.get("code"))
    if isinstance(code, int) and not isinstance(code, bool):
        status = code
    elif isinstance(code, str) and code.isdigit():
        status = int(code)
    if "http_status_code" in detail and status == 422 and not message.startswith("Input validation error"):
        # TGI's chat stream says 422 for every error (infer/mod.rs into_openai_event); only its validation errors
        # (InferError::ValidationError, "Input validation error: ...") are the caller's.
        status = 424
    param = detail.get("param") if isinstance(detail.get("param"), str) else None
    return status_error(status, message, param)


def tgi_error(event: dict[str, Any]) -> ApiError:
    """The ApiError for an error event of either engine (kept under its first name: TGI's)."""
    return engine_error(event)


class TgiStream:
    """The engine's SSE events (TGI's or vLLM's) as dicts; raw ``data`` strings are kept for pass-through."""

    def __init__(self, response: dict[str, Any]) -> None:
        self._body = response["Body"]
        self._parser = SseParser()
        self._opened = time.monotonic()

    def raw_events(self) -> Iterator[tuple[str, dict[str, Any] | None]]:
        """``(data, parsed)`` per event; ``parsed`` is None for ``[DONE]``. Raises ApiError when the stream breaks."""
        try:
            for part in self._body:
                payload = part.get("PayloadPart")
                if payload is None:
                    continue
                for event in self._parser.feed(payload.get("Bytes", b"")):
                    yield from self._decode(event.data)
            for event in self._parser.close():
                yield from self._decode(event.data)
        except ApiError:
            raise
        except Exception as exc:
            error = map_exception(exc)
            if time.monotonic() - self._opened >= STREAM_TIME_LIMIT_SECONDS and error.status >= 500:
                error = time_limit_error()  # however the cut shows (an event, a closed or timed-out connection)
            raise error from exc

    @staticmethod
    def _decode(data: str) -> Iterator[tuple[str, dict[str, Any] | None]]:
        if data.strip() == "[DONE]":
            yield data, None
            return
        try:
            parsed = json.loads(data)
        except ValueError:
            raise ApiError(
                502, "The model sent an unreadable event.", type="upstream_error", code="bad_event"
            ) from None
        if not isinstance(parsed, dict):
            raise ApiError(502, "The model sent an unreadable event.", type="upstream_error", code="bad_event")
        yield data, parsed

    def abort(self) -> None:
        """Shut the read side of the endpoint connection, from any thread: a read blocked on it returns at once.

        For when our client went away while a worker thread waits for the model's next event; ``close`` must
        still follow. botocore's EventStream keeps the urllib3 response as ``_raw_stream``; urllib3 >= 2.3 has
        ``HTTPResponse.shutdown`` for exactly this, older ones get the same ``shutdown(SHUT_RD)`` on the socket.
        A no-op where neither is reachable (the read then ends with the next event, or the read timeout).
        """
        raw = getattr(self._body, "_raw_stream", None)
        with contextlib.suppress(Exception):
            shutdown = getattr(raw, "shutdown", None)
            if callable(shutdown):
                shutdown()
                return
            sock = getattr(getattr(raw, "_connection", None), "sock", None)
            if isinstance(sock, socket.socket):
                sock.shutdown(socket.SHUT_RD)

    def close(self) -> None:
        """Close the model stream and its connection (a half-read one is closed, not returned to the pool)."""
        close = getattr(self._body, "close", None)
        if close is not None:
            close()


def prefix_first(payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` with the conversation (``PREFIX_FIELDS``) as its first keys, the rest in their order."""
    first = {k: payload[k] for k in PREFIX_FIELDS if k in payload}
    return {**first, **{k: v for k, v in payload.items() if k not in first}}


class SageMakerBackend:
    def __init__(
        self,
        client: Any,
        endpoint_name: str,
        *,
        max_attempts: int = 3,
        backoff_base_seconds: float = 0.05,
        backoff_cap_seconds: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        inference_component: str | None = None,
        active_hours: ActiveHours | None = None,
        waker: Waker | None = None,
    ) -> None:
        self._client = client
        # Scale to zero: wake the component at once and hold calls that meet no capacity (chatapi.wake).
        self.waker = waker
        # Outside the scheduled hours a refused call is not a wake-up: say when the model runs instead.
        self._hours = active_hours
        self._endpoint = endpoint_name
        # Named on every call when the model lives in an inference component (scale to zero).
        self._target = {"InferenceComponentName": inference_component} if inference_component else {}
        self._max_attempts = max_attempts
        self._base = backoff_base_seconds
        self._cap = backoff_cap_seconds
        self._sleep = sleep

    def for_component(self, component: str, waker: Waker | None) -> SageMakerBackend:
        """The same client, endpoint and retries, naming ``component`` on every call (one model of
        ``MODEL_ROUTES``: SageMaker runs the call on that inference component), woken by ``waker`` (None: never;
        an adapter's is its base's)."""
        other = copy.copy(self)
        other._target = {"InferenceComponentName": component}
        other.waker = waker
        return other

    def _call(self, operation: Callable[..., Any], payload: dict[str, Any], accept: str) -> Any:
        body = json.dumps(prefix_first(payload), ensure_ascii=False).encode()
        for attempt in range(1, self._max_attempts + 1):
            try:
                return operation(
                    EndpointName=self._endpoint,
                    Body=body,
                    ContentType="application/json",
                    Accept=accept,
                    **self._target,
                )
            except Exception as exc:
                if attempt < self._max_attempts and _is_retryable(exc):
                    self._sleep(random.uniform(0, min(self._cap, self._base * 2**attempt)))
                    continue
                error = map_exception(exc)
                if error.code == "model_starting" and self._hours is not None:
                    error = self._hours.closed_error() or error
                raise error from exc
        raise AssertionError("unreachable")

    def invoke(self, payload: dict[str, Any]) -> Any:
        """The endpoint's JSON answer to ``payload``."""
        if self.waker is not None:
            return self.waker.hold_call(lambda: self._invoke_now(payload))
        return self._invoke_now(payload)

    def _invoke_now(self, payload: dict[str, Any]) -> Any:
        response = self._call(self._client.invoke_endpoint, payload, "application/json")
        try:
            raw = response["Body"].read()
            return json.loads(raw)
        except ValueError:
            raise ApiError(
                502, "The model answered with invalid JSON.", type="upstream_error", code="bad_response"
            ) from None
        except Exception as exc:
            raise map_exception(exc) from exc

    def open_stream(self, payload: dict[str, Any]) -> TgiStream:
        """Start a streamed generation (``payload`` must carry ``"stream": true``)."""
        return TgiStream(self._call(self._client.invoke_endpoint_with_response_stream, payload, "text/event-stream"))
