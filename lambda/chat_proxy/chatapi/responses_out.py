"""The Responses API's answers: a chat completion, or a chat chunk stream, as a ``response`` object or the typed
Responses SSE events (``response.created`` ... ``response.completed``). The request side is ``chatapi.responses``."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from chatapi.responses import NamedFunctionChoice, ResponsesRequest


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def usage_of(chat_usage: Any) -> dict[str, Any] | None:
    """``ResponseUsage`` from a chat ``usage``; cached and reasoning counts where the engine reports them."""
    if not isinstance(chat_usage, dict):
        return None
    prompt, completion = chat_usage.get("prompt_tokens"), chat_usage.get("completion_tokens")
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    cached = (chat_usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    reasoning = (chat_usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": prompt + completion,
    }


def _reasoning_of(message: dict[str, Any]) -> str | None:
    # vLLM 0.29 reports ``reasoning`` (docs/engine-tests.md, checked on the real engine); older versions said
    # ``reasoning_content``: both are read.
    for key in ("reasoning_content", "reasoning"):
        value = message.get(key)
        if isinstance(value, str) and value:
            return value
    return None


@dataclass(slots=True)
class ResponseShell:
    """What every ``response`` object of one request carries besides its output, status and usage."""

    request: ResponsesRequest
    model: str
    max_output_tokens: int | None
    stored: bool
    id: str = field(default_factory=lambda: _new_id("resp"))
    created_at: int = field(default_factory=lambda: int(time.time()))

    def body(
        self,
        *,
        status: str,
        output: list[dict[str, Any]],
        usage: dict[str, Any] | None = None,
        incomplete: str | None = None,
        error: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        request = self.request
        tools = [t.model_dump(mode="json", exclude_none=True) for t in request.tools or []]
        for tool in tools:
            tool.setdefault("strict", None)
            tool.setdefault("parameters", None)
        choice = request.tool_choice
        fmt = request.text.format if request.text is not None and request.text.format is not None else None
        body: dict[str, Any] = {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "completed_at": int(time.time()) if status == "completed" else None,
            "background": False,
            "error": error,
            "incomplete_details": {"reason": incomplete} if incomplete else None,
            "instructions": request.instructions,
            "max_output_tokens": self.max_output_tokens,
            "model": self.model,
            "output": output,
            "parallel_tool_calls": True if request.parallel_tool_calls is None else request.parallel_tool_calls,
            "previous_response_id": request.previous_response_id,
            "reasoning": {"effort": None, "summary": None},
            "service_tier": "default",
            "store": self.stored,
            "temperature": 1.0 if request.temperature is None else request.temperature,
            "text": {
                "format": fmt.model_dump(mode="json", by_alias=True, exclude_none=True) if fmt else {"type": "text"}
            },
            "tool_choice": choice.model_dump(mode="json")
            if isinstance(choice, NamedFunctionChoice)
            else choice or "auto",
            "tools": tools,
            "top_p": 1.0 if request.top_p is None else request.top_p,
            "truncation": "disabled",
            "metadata": dict(request.metadata or {}),
        }
        if usage is not None:  # an object in the spec, never null: absent until known
            body["usage"] = usage
        if request.user is not None:  # a string in the spec, never null
            body["user"] = request.user
        return body


def _message_item(item_id: str, text: str, status: str) -> dict[str, Any]:
    part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    return {"type": "message", "id": item_id, "role": "assistant", "status": status, "content": [part]}


def _reasoning_item(item_id: str, text: str, status: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "reasoning",
        "id": item_id,
        "summary": [],
        "content": [{"type": "reasoning_text", "text": text}],
    }
    if status is not None:
        item["status"] = status
    return item


def _call_item(item_id: str, call_id: str, name: str, arguments: str, status: str) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": item_id,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }


INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def from_chat_completion(shell: ResponseShell, completion: dict[str, Any]) -> dict[str, Any]:
    """The ``response`` object for a non-streamed chat answer."""
    choice = completion["choices"][0]
    message = choice.get("message") or {}
    incomplete = INCOMPLETE.get(choice.get("finish_reason"))
    status = "incomplete" if incomplete else "completed"
    output: list[dict[str, Any]] = []
    reasoning = _reasoning_of(message)
    if reasoning is not None:
        output.append(_reasoning_item(_new_id("rs"), reasoning, status))
    calls = message.get("tool_calls") or []
    text = message.get("content")
    if (isinstance(text, str) and text) or not calls:
        output.append(_message_item(_new_id("msg"), text if isinstance(text, str) else "", status))
    for call in calls:
        function = call.get("function") or {}
        output.append(
            _call_item(
                _new_id("fc"),
                call.get("id") or _new_id("call"),
                str(function.get("name", "")),
                str(function.get("arguments", "")),
                "completed",
            )
        )
    return shell.body(status=status, output=output, usage=usage_of(completion.get("usage")), incomplete=incomplete)


def _event(kind: str, sequence: int, **fields: Any) -> bytes:
    data = json.dumps({"type": kind, **fields, "sequence_number": sequence}, ensure_ascii=False, separators=(",", ":"))
    return f"event: {kind}\ndata: {data}\n\n".encode()


def _chunk_data(chunk: bytes) -> list[dict[str, Any] | None]:
    """The JSON objects of the chat route's SSE bytes (``None`` for ``[DONE]``)."""
    out: list[dict[str, Any] | None] = []
    for line in chunk.decode("utf-8").splitlines():
        if not line.startswith("data:"):
            continue
        data = line[len("data:") :].strip()
        out.append(None if data == "[DONE]" else json.loads(data))
    return out


_ERROR_CODES = {"rate_limit_exceeded", "server_error"}


class _Stream:
    """Turns the chat route's chunk stream into the Responses event sequence (one instance per request)."""

    def __init__(self, shell: ResponseShell, on_final: Callable[[dict[str, Any]], None]) -> None:
        self.shell = shell
        self.on_final = on_final
        self.sequence = 0
        self.output: list[dict[str, Any]] = []
        self.open: dict[str, Any] | None = None  # the output item being streamed
        self.calls: dict[int, dict[str, Any]] = {}  # chat tool-call index -> its output item
        self.finish: str | None = None
        self.usage: dict[str, Any] | None = None

    def emit(self, kind: str, **fields: Any) -> bytes:
        data = _event(kind, self.sequence, **fields)
        self.sequence += 1
        return data

    def start(self) -> Iterator[bytes]:
        shell = self.shell.body(status="in_progress", output=[])
        yield self.emit("response.created", response=shell)
        yield self.emit("response.in_progress", response=shell)

    def _open(self, item: dict[str, Any]) -> Iterator[bytes]:
        yield from self.close()
        self.output.append(item)
        self.open = item
        yield self.emit("response.output_item.added", output_index=len(self.output) - 1, item=dict(item))

    def _index(self) -> int:
        return len(self.output) - 1

    def text(self, delta: str) -> Iterator[bytes]:
        if self.open is None or self.open["type"] != "message":
            yield from self._empty_message()
        assert self.open is not None
        self.open["content"][0]["text"] += delta
        yield self.emit(
            "response.output_text.delta",
            item_id=self.open["id"],
            output_index=self._index(),
            content_index=0,
            delta=delta,
            logprobs=[],
        )

    def reasoning(self, delta: str) -> Iterator[bytes]:
        if self.open is None or self.open["type"] != "reasoning":
            yield from self._open(
                {"type": "reasoning", "id": _new_id("rs"), "summary": [], "content": [], "status": "in_progress"}
            )
            assert self.open is not None
            self.open["content"].append({"type": "reasoning_text", "text": ""})
        assert self.open is not None
        self.open["content"][0]["text"] += delta
        yield self.emit(
            "response.reasoning_text.delta",
            item_id=self.open["id"],
            output_index=self._index(),
            content_index=0,
            delta=delta,
        )

    def tool_call(self, call: dict[str, Any]) -> Iterator[bytes]:
        index = call.get("index", 0)
        function = call.get("function") or {}
        item = self.calls.get(index)
        if item is None:
            item = {
                "type": "function_call",
                "id": _new_id("fc"),
                "call_id": call.get("id") or _new_id("call"),
                "name": function.get("name") or "",
                "arguments": "",
                "status": "in_progress",
            }
            self.calls[index] = item
            yield from self._open(item)
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            item["arguments"] += arguments
            yield self.emit(
                "response.function_call_arguments.delta",
                item_id=item["id"],
                output_index=self.output.index(item),
                delta=arguments,
            )

    def close(self) -> Iterator[bytes]:
        item = self.open
        if item is None:
            return
        self.open = None
        index = self.output.index(item)
        status = "incomplete" if self.finish in INCOMPLETE else "completed"
        if item["type"] == "message":
            part = item["content"][0]
            yield self.emit(
                "response.output_text.done",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                text=part["text"],
                logprobs=[],
            )
            yield self.emit(
                "response.content_part.done", item_id=item["id"], output_index=index, content_index=0, part=dict(part)
            )
        elif item["type"] == "reasoning":
            yield self.emit(
                "response.reasoning_text.done",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                text=item["content"][0]["text"],
            )
        else:
            yield self.emit(
                "response.function_call_arguments.done",
                item_id=item["id"],
                output_index=index,
                name=item["name"],
                arguments=item["arguments"],
            )
            status = "completed"
        item["status"] = status
        yield self.emit("response.output_item.done", output_index=index, item=json.loads(json.dumps(item)))

    def chunk(self, chunk: dict[str, Any]) -> Iterator[bytes]:
        if chunk.get("usage"):
            self.usage = usage_of(chunk["usage"])
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            reasoning = _reasoning_of(delta)
            if reasoning:
                yield from self.reasoning(reasoning)
            content = delta.get("content")
            if isinstance(content, str) and content:
                yield from self.text(content)
            for call in delta.get("tool_calls") or []:
                yield from self.tool_call(call)
            if choice.get("finish_reason"):
                self.finish = choice["finish_reason"]

    def end(self) -> Iterator[bytes]:
        """Close what is open and send ``response.completed`` (or ``.incomplete`` when cut by the token limit)."""
        if not self.output:
            yield from self._empty_message()
        yield from self.close()
        incomplete = INCOMPLETE.get(self.finish or "")
        status = "incomplete" if incomplete else "completed"
        final = self.shell.body(status=status, output=self.output, usage=self.usage, incomplete=incomplete)
        self.on_final(final)  # stored before the last event leaves: work after a Lambda's last byte may freeze
        yield self.emit(f"response.{status}", response=final)

    def _empty_message(self) -> Iterator[bytes]:
        """Open a message item with one empty output_text part (``response.output_item.added`` and
        ``response.content_part.added``)."""
        yield from self._open(
            {"type": "message", "id": _new_id("msg"), "role": "assistant", "status": "in_progress", "content": []}
        )
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        assert self.open is not None
        self.open["content"].append(dict(part))
        yield self.emit(
            "response.content_part.added",
            item_id=self.open["id"],
            output_index=self._index(),
            content_index=0,
            part=part,
        )

    def failed(self, error: dict[str, Any]) -> Iterator[bytes]:
        raw = error.get("error")
        detail: dict[str, Any] = raw if isinstance(raw, dict) else {"message": raw}
        message = str(detail.get("message") or "The model failed.")
        code = detail.get("code")
        yield self.emit("error", code=code, message=message, param=detail.get("param"))
        response_code = code if code in _ERROR_CODES else "server_error"
        final = self.shell.body(
            status="failed", output=self.output, usage=self.usage, error={"code": response_code, "message": message}
        )
        yield self.emit("response.failed", response=final)


def response_events(
    shell: ResponseShell, chat_chunks: Iterator[bytes], on_final: Callable[[dict[str, Any]], None]
) -> Iterator[bytes]:
    """The Responses SSE events for the chat route's ``chat.completion.chunk`` SSE bytes."""
    stream = _Stream(shell, on_final)
    try:
        yield from stream.start()
        for raw in chat_chunks:
            if raw.startswith(b": waking the model"):  # chatapi.wake: keep-alives reach Responses clients too
                yield raw
                continue
            for chunk in _chunk_data(raw):
                if chunk is None:
                    yield from stream.end()
                    return
                if "error" in chunk:
                    yield from stream.failed(chunk)
                    return
                yield from stream.chunk(chunk)
        yield from stream.failed({"error": {"message": "The model stream ended early.", "code": "server_error"}})
    finally:
        close = getattr(chat_chunks, "close", None)
        if close is not None:
            close()
