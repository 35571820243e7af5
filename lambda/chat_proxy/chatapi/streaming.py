"""The SSE response of the streamed routes: it lets go of the model's stream the moment the client goes away.

Starlette's ``StreamingResponse`` is not enough here. Under uvicorn (ASGI spec 2.3) it watches for
``http.disconnect`` and, when the client leaves, cancels the task that iterates the body in the threadpool and
returns; the body's sync generator is not closed then, only when the garbage collector reaches it (about 10 s
later in tests/chat/test_chat_disconnect.py), so until then the connection to SageMaker stays open and the model
keeps generating into it. A read blocked in a worker thread waiting for the model's next event cannot be
cancelled either: anyio waits for the thread, which waits for the model or the read timeout.

``EventStreamResponse`` instead, on ``http.disconnect`` (or an ``OSError`` from ``send``, which ASGI 2.4 servers
raise for a gone client):

1. shuts the read side of the endpoint connection (``TgiStream.abort``), so a blocked read returns at once;
2. stops iterating, then, whatever happened, closes the body generator and the model stream (releasing the
   endpoint connection: it is closed, never returned to the pool half-read) in a ``finally``;
3. reports ``client_disconnected`` to ``finished`` — a log line, not an error: nothing propagates, so neither the
   app nor uvicorn log a stack trace.

A disconnect after the last event was produced is not a disconnect: the response was complete.

In Lambda this acts when the Web Adapter closes its connection to uvicorn; whether a client leaving API Gateway
mid-stream makes it do so is up to API Gateway, Lambda's streaming invoke and LWA, not this app.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping

import anyio
import anyio.to_thread
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from chatapi.backend import TgiStream


class _ClientGone(Exception):
    pass


def _next_chunk(chunks: Iterator[bytes]) -> bytes | None:
    # StopIteration cannot cross the thread boundary (it would end the coroutine), hence None for the end.
    return next(chunks, None)


class EventStreamResponse(Response):
    media_type = "text/event-stream"

    def __init__(
        self,
        chunks: Iterator[bytes],
        stream: TgiStream,
        finished: Callable[[bool], None],
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """``chunks`` is read in the threadpool; ``finished(client_disconnected)`` runs once, after closing."""
        self.status_code = 200
        self.background = None
        self._chunks = chunks
        self._stream = stream
        self._finished = finished
        self.init_headers(headers)

    def map_chunks(self, transform: Callable[[Iterator[bytes]], Iterator[bytes]]) -> None:
        """Send ``transform(chunks)`` instead (another event protocol over the same model stream); the transform
        must close the chunks it was given when it is closed."""
        self._chunks = transform(self._chunks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        produced_all = False
        disconnected = False
        failure: Exception | None = None

        async def emit(message: Message) -> None:
            try:
                await send(message)
            except OSError as exc:  # ASGI >= 2.4 servers: the client is gone
                raise _ClientGone from exc

        try:
            async with anyio.create_task_group() as tasks:

                async def watch_for_disconnect() -> None:
                    nonlocal disconnected
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    if not produced_all:
                        disconnected = True
                        self._stream.abort()
                        tasks.cancel_scope.cancel()

                tasks.start_soon(watch_for_disconnect)
                try:
                    await emit({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
                    while (chunk := await anyio.to_thread.run_sync(_next_chunk, self._chunks)) is not None:
                        await emit({"type": "http.response.body", "body": chunk, "more_body": True})
                    produced_all = True
                    await emit({"type": "http.response.body", "body": b"", "more_body": False})
                except _ClientGone:
                    disconnected = not produced_all
                except Exception as exc:  # noqa: BLE001 - raised after cleanup, not wrapped in an ExceptionGroup
                    failure = exc
                tasks.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._close)
            self._finished(disconnected)
        if failure is not None:
            raise failure

    def _close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            with contextlib.suppress(ValueError):  # "generator already executing": only if a thread was abandoned
                close()
        self._stream.close()
