"""Text generation in TGI's dialect on either engine: TGI's ``{"inputs", "parameters"}`` payload goes to TGI as it
is (media URLs defused) or to vLLM as an OpenAI completions request (``tgi_to_vllm``), and the answer comes back
as TGI's events either way. Every generation is streamed and, without a stream, assembled (``assemble``):
SageMaker allows a stream 8 minutes, InvokeEndpoint 60 seconds."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from chatapi import wake
from chatapi.backend import SageMakerBackend, TgiStream, tgi_error
from chatapi.dialects import assemble
from chatapi.dialects.tgi_to_vllm import Event, tgi_events, vllm_completion_request
from chatapi.errors import ApiError
from chatapi.media import defuse_tgi_payload


def open_stream(backend: SageMakerBackend, payload: dict[str, Any]) -> tuple[TgiStream, Iterator[Event]]:
    """Open a stream (or hold it while a scaled-to-zero model wakes: ``chatapi.wake``)."""
    # A stand-in backend without a waker (tests pass their own) never holds.
    return wake.open_or_hold(getattr(backend, "waker", None), lambda: _open_now(backend, payload))


def _open_now(backend: SageMakerBackend, payload: dict[str, Any]) -> tuple[TgiStream, Iterator[Event]]:
    """Open a stream and read up to its first event, so a failure before any token is a proper HTTP error."""
    stream = backend.open_stream(payload)
    events = stream.raw_events()
    try:
        first = next(events)
    except StopIteration:
        stream.close()
        raise ApiError(
            502, "The model stream ended without an event.", type="upstream_error", code="empty_stream"
        ) from None
    except ApiError:
        stream.close()
        raise
    if first[1] is not None and "error" in first[1]:
        stream.close()
        raise tgi_error(first[1])
    return stream, itertools.chain([first], events)


class TextTransport:
    """Send a TGI payload; ``param_prefix`` names the client's fields in errors (``"parameters."`` for
    ``/generate``), None marks a payload the proxy built itself."""

    def __init__(self, backend: SageMakerBackend) -> None:
        self.backend = backend

    def open(self, payload: dict[str, Any], *, param_prefix: str | None = None) -> tuple[TgiStream, Iterator[Event]]:
        """The engine's stream for ``payload`` (``"stream": true``) as TGI events."""
        raise NotImplementedError

    def generation(self, payload: dict[str, Any], *, param_prefix: str | None = None) -> Any:
        """The engine's answer to ``payload`` in TGI's shape, assembled from its stream."""
        stream, events = self.open({**payload, "stream": True}, param_prefix=param_prefix)
        try:
            return assemble.tgi_generation(events)
        finally:
            stream.close()

    def generate_answer(self, payload: dict[str, Any], asked: dict[str, Any]) -> Any:
        """``/generate``'s answer without a stream, to the caller's parameters ``asked``."""
        return self.generation(payload, param_prefix="parameters.")


class TgiText(TextTransport):
    def open(self, payload: dict[str, Any], *, param_prefix: str | None = None) -> tuple[TgiStream, Iterator[Event]]:
        return open_stream(self.backend, defuse_tgi_payload(payload))

    def generate_answer(self, payload: dict[str, Any], asked: dict[str, Any]) -> Any:
        if asked.get("best_of", 1) > 1 or asked.get("decoder_input_details"):
            # TGI refuses both on a stream: InvokeEndpoint, within SageMaker's 60 seconds.
            return self.backend.invoke(defuse_tgi_payload(payload))
        return super().generate_answer(payload, asked)


class VllmText(TextTransport):
    def __init__(self, backend: SageMakerBackend, model: str) -> None:
        super().__init__(backend)
        self.model = model

    def open(self, payload: dict[str, Any], *, param_prefix: str | None = None) -> tuple[TgiStream, Iterator[Event]]:
        request = vllm_completion_request(payload, self.model, param_prefix=param_prefix)
        stream, events = open_stream(self.backend, request)
        return stream, tgi_events(events, payload)
