"""A client that goes away mid-stream releases the model endpoint's stream promptly and is logged, not raised.

The emulator writes a couple of events, then holds the stream (writes nothing more) until its caller, the app's
boto3 connection, goes away, and records when that happened; the test client reads a couple of SSE events, then
drops its connection. Tests wait on the emulator's record changing, not on a slow stream's clock; the only times
asserted are how soon the app let go, against what would otherwise release it (the garbage collector ~10 s later,
or the 60 s read timeout).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from chat_harness import app_env, start_app
from sagemaker_runtime_emulator import Emulator, StreamRecord

TOKENS = 200
HELD = {"tokens": ["word "] * TOKENS, "hold_after": 2}  # two events, then nothing until the caller leaves
HANG_BOUND_SECONDS = 60  # fails a hung test; a passing one never waits it out
CHAT = ("/v1/chat/completions", {"messages": [{"role": "user", "content": "Tell me a long story."}], "stream": True})
GENERATE = ("/generate", {"inputs": "Tell me a long story.", "stream": True})


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.02)
    raise AssertionError(f"not within {timeout} s: {what}")


def read_events_then_disconnect(base_url: str, route: str, body: dict[str, Any], events: int, request_id: str) -> float:
    """Stream ``route``, read ``events`` SSE data lines, drop the connection; returns time.monotonic() of the drop."""
    with httpx.Client(base_url=base_url, timeout=15) as client:
        with client.stream("POST", route, json=body, headers={"x-request-id": request_id}) as response:
            assert response.status_code == 200
            seen = 0
            for line in response.iter_lines():
                seen += line.startswith("data:")
                if seen == events:
                    break
        # Leaving both blocks closes the unfinished response's connection (it cannot go back to the pool).
        return time.monotonic()


def backend_stream_dropped(emulator: Emulator) -> StreamRecord:
    """The model stream, once the app has closed its connection to it."""
    assert emulator.wait_for(lambda streams: streams and streams[0].caller_gone, HANG_BOUND_SECONDS), (
        "the app did not close its connection to the model endpoint"
    )
    return emulator.streams[0]


def log_records(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


@pytest.mark.parametrize(("route", "body"), [CHAT, GENERATE], ids=["chat", "generate"])
def test_disconnect_closes_the_model_stream_long_before_it_ends(
    app_url: str, emulator: Emulator, route: str, body: dict[str, Any]
) -> None:
    emulator.set_scenario(**HELD)
    dropped_at = read_events_then_disconnect(app_url, route, body, 2, f"drop-{route.strip('/').replace('/', '-')}")
    stream = backend_stream_dropped(emulator)
    assert stream.caller_gone_at is not None
    assert stream.caller_gone_at - dropped_at < 5.0  # not left to the garbage collector (~10 s later)
    assert not stream.completed
    assert stream.events_written == 2


def test_disconnect_is_logged_as_client_disconnected_without_an_error(
    app_url: str, app_log: Path, emulator: Emulator
) -> None:
    emulator.set_scenario(**HELD)
    read_events_then_disconnect(app_url, *CHAT, 2, "drop-logged")

    def finished() -> list[dict[str, Any]]:
        mine = [r for r in log_records(app_log) if r.get("request_id") == "drop-logged"]
        return [r for r in mine if r["message"] == "stream finished"]

    (record,) = wait_for(finished, 5, "a 'stream finished' log line for the request")
    assert record["error_code"] == "client_disconnected"
    assert record["level"] in ("INFO", "WARNING")
    mine = [r for r in log_records(app_log) if r.get("request_id") == "drop-logged"]
    assert [r for r in mine if r["level"] == "ERROR" or "exception" in r] == []


def test_disconnect_leaves_no_traceback_in_the_app_log(app_url: str, app_log: Path, emulator: Emulator) -> None:
    emulator.set_scenario(**HELD)
    start = len(app_log.read_text())
    read_events_then_disconnect(app_url, *GENERATE, 2, "drop-no-trace")
    wait_for(
        lambda: any(r.get("request_id") == "drop-no-trace" and r["message"] == "request" for r in log_records(app_log)),
        5,
        "the request's access log line",
    )
    new = app_log.read_text()[start:]
    assert "Traceback" not in new
    assert "Exception in ASGI application" not in new


@pytest.fixture(scope="module")
def patient_app(session_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An app whose boto3 read timeout (60 s) is far longer than the model's pause between tokens below."""
    proc, url = start_app(
        app_env(session_emulator.url, BACKEND_READ_TIMEOUT_SECONDS="60"),
        tmp_path_factory.mktemp("patient") / "app.log",
    )
    yield url
    proc.terminate()
    proc.wait(10)


def test_disconnect_during_a_long_model_pause_releases_the_endpoint_at_once(
    patient_app: str, emulator: Emulator
) -> None:
    # After its first token the model is silent until its caller leaves: the app's read of the next event is
    # blocked in a worker thread, and must be cut short rather than left waiting for the read timeout (60 s).
    emulator.set_scenario(tokens=["Once", " upon", " a", " time"], hold_after=1)
    dropped_at = read_events_then_disconnect(patient_app, *CHAT, 2, "drop-during-pause")
    stream = backend_stream_dropped(emulator)
    assert stream.caller_gone_at is not None
    assert stream.caller_gone_at - dropped_at < 10.0
    assert stream.events_written == 1
