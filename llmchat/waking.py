"""Show the API's wake-up notes: while a scaled-to-zero model starts, the chat API holds a stream and sends SSE
comment lines ``: waking the model (n s)`` (docs/wake-up.md). The openai client skips comments, as the SSE spec
says clients must, so this httpx transport watches the raw bytes on their way to it and shows each note on one
line that the answer then overwrites."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from typing import TextIO

import httpx

NOTE = re.compile(rb"^: ?(waking the model \(\d+ s\))\r?$", re.MULTILINE)
PROMPT = "llm> "


class _Watched(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, out: TextIO) -> None:
        self._inner = inner
        self._out = out
        self._noted = False
        self._tail = b""  # a line cut by a chunk boundary

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            lines, _, self._tail = (self._tail + chunk).rpartition(b"\n")
            notes = NOTE.findall(lines)
            for note in notes:
                self._out.write(f"\r{PROMPT}({note.decode()})")
                self._out.flush()
                self._noted = True
            if self._noted and b"data:" in chunk:
                # The answer begins: clear the note's line and give the prompt back.
                self._out.write("\r\x1b[2K" + PROMPT)
                self._out.flush()
                self._noted = False
            yield chunk

    def close(self) -> None:
        self._inner.close()


class WakingTransport(httpx.BaseTransport):
    """``inner`` (default: httpx's own), with the wake-up notes of event streams written to ``out``."""

    def __init__(self, inner: httpx.BaseTransport | None = None, out: TextIO | None = None) -> None:
        self._inner = inner or httpx.HTTPTransport()
        self._out = out

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            return response
        stream = response.stream
        assert isinstance(stream, httpx.SyncByteStream)
        response.stream = _Watched(stream, self._out or sys.stdout)
        return response

    def close(self) -> None:
        self._inner.close()
