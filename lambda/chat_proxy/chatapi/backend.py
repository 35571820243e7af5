"""The SageMaker runtime backend: InvokeEndpoint and InvokeEndpointWithResponseStream, with faults mapped.

Retries are ours, not botocore's: botocore's standard mode also retries read timeouts, which for a generation
that already ran for BACKEND_READ_TIMEOUT_SECONDS would start it again (and outlive the Lambda). We retry, with
jittered exponential back-off, only failures where the model did not run (throttling, service unavailable,
internal failure of the service, connection refused or connect timeout), and only while opening the call —
nothing has been sent to our client yet then. A stream is never retried once its events are being read.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
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

from chatapi.errors import ApiError
from chatapi.settings import Settings
from chatapi.sse import SseParser

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


def make_client(settings: Settings) -> Any:
    config = Config(
        connect_timeout=settings.backend_connect_timeout_seconds,
        read_timeout=settings.backend_read_timeout_seconds,
        retries={"mode": "standard", "total_max_attempts": 1},
        max_pool_connections=64,
        tcp_keepalive=True,
    )
    return boto3.session.Session().client("sagemaker-runtime", region_name=settings.aws_region, config=config)


def _model_message(raw: str) -> str:
    """TGI's error text out of a ModelError's OriginalMessage (TGI answers ``{"error": ..., "error_type": ...}``)."""
    try:
        parsed = json.loads(raw)
    except ValueError:
        return raw[:MAX_MESSAGE_CHARS]
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), str):
        return parsed["error"][:MAX_MESSAGE_CHARS]
    return raw[:MAX_MESSAGE_CHARS]


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
        original_message = exc.response.get("OriginalMessage", error.get("OriginalMessage")) or message
        text = _model_message(str(original_message))
        status = int(original) if str(original).isdigit() else 0
        if status == 422:
            return ApiError(400, text, code="model_validation_error")
        if status == 429:
            return ApiError(
                429,
                "The model is overloaded; retry later.",
                type="rate_limit_error",
                code="model_overloaded",
                headers={"Retry-After": RETRY_AFTER_SECONDS},
            )
        return ApiError(502, f"The model failed: {text}", type="upstream_error", code="model_error")
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
    if code in ("ModelStreamError", "InternalStreamFailure"):
        return ApiError(502, "The model stream failed.", type="upstream_error", code="stream_error")
    return ApiError(502, "The model endpoint rejected the call.", type="upstream_error", code="backend_error")


def _is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code") in RETRYABLE_CODES
    return isinstance(exc, EndpointConnectionError | ConnectTimeoutError) and not isinstance(exc, ReadTimeoutError)


def tgi_error(event: dict[str, Any]) -> ApiError:
    """The ApiError for a TGI ``{"error": ..., "error_type": ...}`` event."""
    message = str(event.get("error", "model error"))[:MAX_MESSAGE_CHARS]
    kind = event.get("error_type")
    if kind == "validation":
        return ApiError(400, message, code="model_validation_error")
    if kind == "overloaded":
        return ApiError(
            429, message, type="rate_limit_error", code="model_overloaded", headers={"Retry-After": RETRY_AFTER_SECONDS}
        )
    return ApiError(502, f"The model failed: {message}", type="upstream_error", code="model_error")


class TgiStream:
    """TGI's stream events as dicts; raw ``data`` strings are kept for pass-through (``raw_events``)."""

    def __init__(self, response: dict[str, Any]) -> None:
        self._body = response["Body"]
        self._parser = SseParser()

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
            raise map_exception(exc) from exc

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
    ) -> None:
        self._client = client
        self._endpoint = endpoint_name
        # Named on every call when the model lives in an inference component (scale to zero).
        self._target = {"InferenceComponentName": inference_component} if inference_component else {}
        self._max_attempts = max_attempts
        self._base = backoff_base_seconds
        self._cap = backoff_cap_seconds
        self._sleep = sleep

    def _call(self, operation: Callable[..., Any], payload: dict[str, Any], accept: str) -> Any:
        body = json.dumps(payload, ensure_ascii=False).encode()
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
                raise map_exception(exc) from exc
        raise AssertionError("unreachable")

    def invoke(self, payload: dict[str, Any]) -> Any:
        """The endpoint's JSON answer to ``payload``."""
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
