"""Incremental parser for Server-Sent Events arriving in arbitrary byte chunks (SageMaker PayloadParts).

Follows the WHATWG event-stream rules that matter for TGI: lines end in ``\\n``, ``\\r\\n`` or ``\\r`` (a
``\\r\\n`` pair may be split across chunks); a blank line dispatches the event; ``:`` lines are comments
(keep-alives); ``field:value`` drops one optional space after the colon; several ``data`` lines join with
``\\n``. Bytes are decoded with an incremental UTF-8 decoder so a character split across chunks survives.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SseEvent:
    data: str
    event: str = "message"


class SseParser:
    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._after_cr = False
        self._data: list[str] = []
        self._event = ""

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """Consume ``chunk``; return the events it completed."""
        return self._consume(self._decoder.decode(chunk))

    def close(self) -> list[SseEvent]:
        """End of stream: an unterminated final event is still delivered (TGI ends with a blank line anyway)."""
        events = self._consume(self._decoder.decode(b"", final=True))
        if self._buffer:
            self._line(self._buffer, events)
            self._buffer = ""
        self._line("", events)
        return events

    def _consume(self, text: str) -> list[SseEvent]:
        events: list[SseEvent] = []
        if not text:
            return events
        if self._after_cr and text.startswith("\n"):
            text = text[1:]
        self._after_cr = False
        buffer = self._buffer + text
        start = 0
        length = len(buffer)
        while True:
            nl = buffer.find("\n", start)
            cr = buffer.find("\r", start)
            if nl < 0 and cr < 0:
                break
            end = nl if cr < 0 or (0 <= nl < cr) else cr
            self._line(buffer[start:end], events)
            start = end + 1
            if buffer[end] == "\r":
                if start < length and buffer[start] == "\n":
                    start += 1
                elif start == length:
                    self._after_cr = True
        self._buffer = buffer[start:]
        return events

    def _line(self, line: str, events: list[SseEvent]) -> None:
        if not line:
            if self._data:
                events.append(SseEvent(data="\n".join(self._data), event=self._event or "message"))
            self._data = []
            self._event = ""
            return
        if line.startswith(":"):
            return
        field, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
