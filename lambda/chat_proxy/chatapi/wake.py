"""Wake a scaled-to-zero inference component at once and hold the request until a copy serves (docs/wake-up.md).

At zero copies SageMaker refuses every call with "Inference Component has no capacity to process this request.
ApplicationAutoScaling may be in-progress (if configured) or try to increase the capacity by invoking
UpdateInferenceComponentRuntimeConfig API" (the runtime's own message; AWS, "Scale an endpoint to zero
instances"). AWS's documented wake-up is a step-scaling policy behind a CloudWatch alarm on
NoCapacityInvocationFailures, which fires a minute or more later; the stack keeps it as the fallback. Here the
first refused call asks for one copy right away with SageMaker's ``UpdateInferenceComponentRuntimeConfig``
(``DesiredRuntimeConfig.CopyCount``, botocore shape ``InferenceComponentRuntimeConfig``, minimum 0), the call the
message itself names. Not Application Auto Scaling's ``RegisterScalableTarget`` with MinCapacity 1: that would pin
a copy for good and undo scale to zero; the idle alarm's policy still takes the copy back to zero later.

``DescribeInferenceComponent`` first: in Lambda each concurrent request runs in its own execution environment, so
a desired count already >= 1 (another environment's wake, or the alarm's) means there is nothing to ask for.

One wake-up per component and process: the first held request makes the scaling call, the others share it (a lock
and a shared event). One probe per ``poll_seconds`` retries the model for all of them; when a copy answers, the
event wakes every held request at once.

Streams answer at once with SSE comment lines (``: waking the model (12 s)``) while held: clients skip comments
(SSE spec, "Interpreting an event stream"), API Gateway sees bytes inside its idle timeout. Non-streamed requests
send nothing while held, so they wait at most ``NONSTREAM_WAIT_MAX_SECONDS`` (API Gateway's idle timeout minus
one SageMaker invocation), then get today's 503 + Retry-After.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from aws_lambda_powertools import Logger

from chatapi.backend import TgiStream
from chatapi.errors import ApiError

T = TypeVar("T")

STARTING_CODE = "model_starting"
# Same numbers as constructs/api/time_limits.py (the stack's source; tests/chat/test_chat_wake.py checks they agree):
# API Gateway REST response streaming, Regional endpoints: "The stream is subject to an idle timeout ... 5 minutes"
# (API Gateway developer guide, "Stream the integration response for your proxy integrations"), minus SageMaker's
# 60 s for the invocation that follows the wake.
APIGATEWAY_IDLE_SECONDS = 300
SAGEMAKER_INVOKE_SECONDS = 60
NONSTREAM_WAIT_MAX_SECONDS = APIGATEWAY_IDLE_SECONDS - SAGEMAKER_INVOKE_SECONDS
DEFAULT_POLL_SECONDS = 5.0

logger = Logger(service="chat-proxy", child=True)


def keepalive(seconds: float) -> bytes:
    """The SSE comment a held stream sends; the page and ``make chat`` show its text."""
    return f": waking the model ({int(seconds)} s)\n\n".encode()


class Waker:
    """The shared wake-up of one inference component: at most one scaling call per wake, one probe at a time."""

    def __init__(
        self,
        client: Any,
        component: str,
        *,
        wait_seconds: float,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self.component = component
        self.wait_seconds = wait_seconds
        self.nonstream_wait_seconds = min(wait_seconds, NONSTREAM_WAIT_MAX_SECONDS)
        self.poll_seconds = poll_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._woken_at: float | None = None
        self._next_probe = 0.0
        self.served = threading.Event()  # set when a copy answered after a wake: every held request retries
        self.scaling_calls = 0

    def for_component(self, component: str) -> Waker:
        """A waker of its own (lock, probe, served event) for another component, with the same client and waits."""
        return Waker(
            self._client, component, wait_seconds=self.wait_seconds, poll_seconds=self.poll_seconds, clock=self._clock
        )

    def wake(self) -> float:
        """Ask for a copy unless this wake-up already did; the time the wake-up started."""
        with self._lock:
            now = self._clock()
            if self._woken_at is not None and now - self._woken_at < self.wait_seconds:
                return self._woken_at
            self._woken_at = now
            self.served.clear()
            self._next_probe = now + self.poll_seconds
            self._request_copy()
            return now

    def _request_copy(self) -> None:
        # A failure here is logged, not raised: the alarm's step-scaling policy still wakes the component.
        try:
            described = self._client.describe_inference_component(InferenceComponentName=self.component)
            desired = described.get("RuntimeConfig", {}).get("DesiredCopyCount", 0)
            if desired >= 1:
                logger.info("wake: a copy is already on its way", extra={"desired_copy_count": desired})
                return
            self.scaling_calls += 1
            self._client.update_inference_component_runtime_config(
                InferenceComponentName=self.component, DesiredRuntimeConfig={"CopyCount": 1}
            )
            logger.info("wake: asked for one copy", extra={"inference_component": self.component})
        except Exception as exc:  # noqa: BLE001 - any failure leaves the alarm path
            logger.warning("wake: scaling call failed; the alarm will wake the model", extra={"error": repr(exc)})

    def waking_for(self) -> float:
        """Seconds since this wake-up started."""
        started = self._woken_at
        return 0.0 if started is None else max(0.0, self._clock() - started)

    def mark_served(self) -> None:
        with self._lock:
            if self._woken_at is not None:
                self._woken_at = None
                self.served.set()

    def _take_probe(self) -> bool:
        """Whether this held request may try the model now (one probe per poll interval, or after a copy served)."""
        with self._lock:
            now = self._clock()
            if self.served.is_set() or now >= self._next_probe:
                self._next_probe = now + self.poll_seconds
                return True
            return False

    def attempt(self, call: Callable[[], T], deadline: float, timeout: float) -> tuple[bool, T | None]:
        """One step of a hold: wait up to ``timeout`` for a probe slot, then try ``call``. ``(True, result)`` when
        the model answered, ``(False, None)`` while it still starts; raises the 503 once ``deadline`` passed."""
        remaining = deadline - self._clock()
        if remaining <= 0:
            raise starting_error()
        if not self._take_probe():
            self.served.wait(min(timeout, remaining, max(0.0, self._next_probe - self._clock())))
            if not self._take_probe():
                if deadline - self._clock() <= 0:
                    raise starting_error()
                return False, None
        try:
            result = call()
        except ApiError as exc:
            if exc.code != STARTING_CODE:
                raise
            self.wake()
            if deadline - self._clock() <= 0:
                raise
            return False, None
        self.mark_served()
        return True, result

    def hold_call(self, call: Callable[[], T]) -> T:
        """``call()``; while it meets no capacity, wake and retry within the non-stream limit."""
        try:
            result = call()
        except ApiError as exc:
            if exc.code != STARTING_CODE or self.nonstream_wait_seconds <= 0:
                raise
            deadline = self._clock() + self.nonstream_wait_seconds
            self.wake()
            while True:
                done, value = self.attempt(call, deadline, self.poll_seconds)
                if done:
                    return value  # type: ignore[return-value]
        self.mark_served()
        return result

    def now(self) -> float:
        return self._clock()


def starting_error() -> ApiError:
    """Today's answer once the hold is over: 503 + Retry-After (backend.STARTING_MESSAGE)."""
    from chatapi.backend import STARTING_MESSAGE, STARTING_RETRY_AFTER_SECONDS

    return ApiError(
        503,
        STARTING_MESSAGE,
        type="service_unavailable",
        code=STARTING_CODE,
        headers={"Retry-After": STARTING_RETRY_AFTER_SECONDS},
    )


Opened = tuple[TgiStream, Iterator[Any]]


class HeldStream(TgiStream):
    """A model stream that is not open yet: its events wait for the wake-up (non-stream limit), or ``keepalives``
    sends SSE comments until it opens (stream limit)."""

    def __init__(self, waker: Waker, opener: Callable[[], Opened]) -> None:
        self._waker = waker
        self._opener = opener
        self._started = waker.now()
        self._deadline = self._started + waker.nonstream_wait_seconds
        self._opened: Opened | None = None
        self._cancelled = threading.Event()

    def _step(self, timeout: float) -> bool:
        if self._cancelled.is_set():
            raise starting_error()
        done, opened = self._waker.attempt(self._opener, self._deadline, timeout)
        if done:
            self._opened = opened
        return done

    def raw_events(self) -> Iterator[tuple[str, dict[str, Any] | None]]:
        while self._opened is None:
            self._step(self._waker.poll_seconds)
        yield from self._opened[1]

    def keepalives(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        """``chunks`` of a streamed response, preceded by a comment per poll interval until the model opens."""
        self._deadline = self._started + self._waker.wait_seconds
        try:
            yield keepalive(self._waker.waking_for())
            while self._opened is None and self._waker.now() < self._deadline and not self._cancelled.is_set():
                if self._step(self._waker.poll_seconds):
                    break
                yield keepalive(self._waker.waking_for())
        except ApiError:
            pass  # out of time: ``chunks`` reads the events, which raise it as the stream's error event
        try:
            yield from chunks
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    def abort(self) -> None:
        self._cancelled.set()
        if self._opened is not None:
            self._opened[0].abort()

    def close(self) -> None:
        if self._opened is not None:
            self._opened[0].close()


def open_or_hold(waker: Waker | None, opener: Callable[[], Opened]) -> Opened:
    """``opener()``, or, when it meets no capacity and a waker is set, a held stream that opens after the wake."""
    try:
        return opener()
    except ApiError as exc:
        if waker is None or exc.code != STARTING_CODE or waker.wait_seconds <= 0:
            raise
    waker.wake()
    held = HeldStream(waker, opener)
    return held, held.raw_events()


def make_waker(component: str | None, wait_seconds: int, poll_seconds: float, region: str | None) -> Waker | None:
    """A waker for ``component`` (None without one, or with WAKE_WAIT_SECONDS=0: today's 503 only)."""
    if not component or wait_seconds <= 0:
        return None
    import botocore.session
    from botocore.config import Config

    # botocore honours AWS_ENDPOINT_URL_SAGEMAKER (and AWS_ENDPOINT_URL), so a stand-in can take the call.
    config = Config(connect_timeout=5, read_timeout=10, retries={"mode": "standard", "total_max_attempts": 2})
    client = botocore.session.get_session().create_client("sagemaker", region_name=region, config=config)
    return Waker(client, component, wait_seconds=wait_seconds, poll_seconds=poll_seconds)
