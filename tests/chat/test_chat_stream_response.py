"""EventStreamResponse and TgiStream.abort in-process (the disconnect itself is driven end to end in
test_chat_disconnect.py)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from chatapi.backend import TgiStream
from chatapi.streaming import EventStreamResponse
from fastapi import FastAPI
from fastapi.testclient import TestClient


class FakeStream:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def abort(self) -> None:
        self.calls.append("abort")

    def close(self) -> None:
        self.calls.append("close")


def serve(chunks: Iterator[bytes], stream: FakeStream, finished: list[bool]) -> TestClient:
    app = FastAPI()

    @app.get("/sse")
    def sse() -> EventStreamResponse:
        return EventStreamResponse(chunks, stream, finished.append)  # type: ignore[arg-type]

    return TestClient(app)


def test_a_complete_stream_is_closed_and_reported_as_not_disconnected() -> None:
    stream, finished = FakeStream(), []
    with serve(iter([b"data: 1\n\n", b"data: 2\n\n"]), stream, finished) as client:
        response = client.get("/sse")
    assert response.text == "data: 1\n\ndata: 2\n\n"
    assert response.headers["content-type"].startswith("text/event-stream")
    assert (stream.calls, finished) == (["close"], [False])


def test_a_failing_body_is_raised_as_itself_after_the_stream_is_closed() -> None:
    def chunks() -> Iterator[bytes]:
        yield b"data: 1\n\n"
        raise KeyError("bug")

    stream, finished = FakeStream(), []
    with serve(chunks(), stream, finished) as client, pytest.raises(KeyError):
        client.get("/sse")
    assert (stream.calls, finished) == (["close"], [False])


def test_abort_unblocks_a_read_through_the_socket_when_urllib3_has_no_shutdown() -> None:
    ours, theirs = socket.socketpair()
    raw = SimpleNamespace(_connection=SimpleNamespace(sock=ours))  # an urllib3 < 2.3 response: no .shutdown()
    stream = TgiStream({"Body": SimpleNamespace(_raw_stream=raw)})
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(ours.recv(1)))
    reader.start()
    try:
        stream.abort()
        reader.join(5)
        assert got == [b""]
    finally:
        theirs.close()
        ours.close()
        reader.join(5)


@pytest.mark.parametrize("body", [object(), SimpleNamespace(_raw_stream=None), SimpleNamespace(_raw_stream=object())])
def test_abort_is_a_no_op_when_there_is_no_connection_to_shut(body: Any) -> None:
    TgiStream({"Body": body}).abort()
