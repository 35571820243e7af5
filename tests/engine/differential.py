"""Send one request to vLLM's own OpenAI server and through this API; compare what came back, field by field.

Ignored everywhere: ``id`` (every answer and tool call gets a fresh one), ``created`` (a timestamp) and
``system_fingerprint``. A field one side sends as ``null`` and the other leaves out counts as equal: every OpenAI
client reads both the same (vLLM sends its own extensions, such as ``token_ids`` or ``kv_transfer_params``, as
``null`` when unused). Everything else (status, body, every chunk of a stream, in order) must be equal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

IGNORED = frozenset({"id", "created", "system_fingerprint"})
TIMEOUT = httpx.Timeout(300.0, connect=10.0)


def normalize(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items() if k not in IGNORED}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    return value


@dataclass
class Answer:
    status: int
    body: Any  # JSON, or the text when the body is not JSON; for a stream: the list of events ("[DONE]" kept)
    content_type: str

    def normalized(self) -> Any:
        return normalize(self.body)


def _parse(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def _events(lines: list[str]) -> list[Any]:
    events: list[Any] = []
    for line in lines:
        if not line.startswith("data:"):
            continue
        data = line[len("data:") :].strip()
        events.append(data if data == "[DONE]" else json.loads(data))
    return events


def send(base_url: str, method: str, path: str, body: Any = None, *, stream: bool = False) -> Answer:
    """``path`` is relative to a base URL ending in /v1 (``chat/completions``) or absolute on the server root
    (``/generate``)."""
    url = base_url.removesuffix("/v1") + path if path.startswith("/") else f"{base_url}/{path}"
    with httpx.Client(timeout=TIMEOUT) as client:
        if not stream:
            response = client.request(method, url, json=body)
            return Answer(response.status_code, _parse(response), response.headers.get("content-type", ""))
        with client.stream(method, url, json=body) as response:
            kind = response.headers.get("content-type", "")
            if not kind.startswith("text/event-stream"):
                response.read()
                return Answer(response.status_code, _parse(response), kind)
            return Answer(response.status_code, _events(list(response.iter_lines())), kind)


def differences(engine: Any, api: Any, path: str = "$") -> list[str]:
    """Every path where the two normalized values differ, with both values."""
    if isinstance(engine, dict) and isinstance(api, dict):
        found: list[str] = []
        for key in sorted(set(engine) | set(api)):
            if engine.get(key) is None and api.get(key) is None:
                continue
            if key not in api:
                found.append(f"{path}.{key}: engine {engine[key]!r}, API has no such field")
            elif key not in engine:
                found.append(f"{path}.{key}: API {api[key]!r}, engine has no such field")
            else:
                found += differences(engine[key], api[key], f"{path}.{key}")
        return found
    if isinstance(engine, list) and isinstance(api, list):
        found = [f"{path}: engine has {len(engine)} items, API {len(api)}"] if len(engine) != len(api) else []
        for i, (a, b) in enumerate(zip(engine, api, strict=False)):
            found += differences(a, b, f"{path}[{i}]")
        return found
    return [] if engine == api else [f"{path}: engine {engine!r}, API {api!r}"]


def compare(api: Any, method: str, path: str, body: Any = None, *, stream: bool = False) -> tuple[Answer, Answer]:
    """Send the request to both sides (``api`` is an ``EngineApi``) and assert the answers are the same."""
    engine_answer = send(api.vllm_url, method, path, body, stream=stream)
    api_answer = send(api.api_url, method, path, body, stream=stream)
    found = [f"status: engine {engine_answer.status}, API {api_answer.status}"] * (
        engine_answer.status != api_answer.status
    )
    found += differences(engine_answer.normalized(), api_answer.normalized())
    assert not found, "the API differs from the engine:\n" + "\n".join(found[:40])
    return engine_answer, api_answer


def assemble(events: list[Any]) -> dict[str, Any]:
    """A stream reduced to what it says, whatever its chunking: vLLM merges the deltas of several tokens into one
    chunk whenever its reader falls behind (a loaded machine), so the same answer arrives in different numbers of
    chunks. Kept: the first delta's role, each choice's concatenated text/reasoning/tool-call pieces and logprobs,
    its finish and stop reasons, the usage chunk, the stream's end, and each chunk's field names."""
    out: dict[str, Any] = {"done": bool(events) and events[-1] == "[DONE]", "errors": [], "usage": None}
    choices: dict[int, dict[str, Any]] = {}
    shapes: set[tuple[str, ...]] = set()
    for event in events:
        if event == "[DONE]":
            continue
        if "error" in event:
            out["errors"].append(event["error"])
            continue
        if event.get("usage") is not None:
            out["usage"] = event["usage"]
        shapes.add(tuple(sorted(k for k, v in event.items() if v is not None and k not in IGNORED)))
        for choice in event.get("choices") or []:
            into = choices.setdefault(
                choice["index"], {"role": None, "text": "", "reasoning": "", "tools": {}, "logprobs": []}
            )
            delta = choice.get("delta", {"content": choice.get("text")})
            if delta.get("role") and into["role"] is None:
                into["role"] = delta["role"]
            into["text"] += delta.get("content") or ""
            into["reasoning"] += delta.get("reasoning") or delta.get("reasoning_content") or ""
            for call in delta.get("tool_calls") or []:
                tool = into["tools"].setdefault(call["index"], {"type": None, "name": None, "arguments": ""})
                tool["type"] = call.get("type") or tool["type"]
                function = call.get("function") or {}
                tool["name"] = function.get("name") or tool["name"]
                tool["arguments"] += function.get("arguments") or ""
                tool["has_id"] = tool.get("has_id", False) or bool(call.get("id"))
            logprobs = choice.get("logprobs")
            if isinstance(logprobs, dict):
                into["logprobs"] += logprobs.get("content") or logprobs.get("tokens") or []
            for key in ("finish_reason", "stop_reason"):
                if choice.get(key) is not None:
                    into[key] = choice[key]
    out["choices"] = choices
    out["chunk_fields"] = sorted(shapes)
    return normalize(out)


def compare_stream(api: Any, path: str, body: Any) -> tuple[Answer, Answer]:
    engine_answer = send(api.vllm_url, "POST", path, body, stream=True)
    api_answer = send(api.api_url, "POST", path, body, stream=True)
    found = [f"status: engine {engine_answer.status}, API {api_answer.status}"] * (
        engine_answer.status != api_answer.status
    )
    if isinstance(engine_answer.body, list) and isinstance(api_answer.body, list):
        found += differences(assemble(engine_answer.body), assemble(api_answer.body))
    else:
        found += differences(engine_answer.normalized(), api_answer.normalized())
    assert not found, "the API's stream differs from the engine's:\n" + "\n".join(found[:40])
    return engine_answer, api_answer


# vLLM parses a tool call differently with and without a stream when the call never closes (the tiny random model
# writes JSON whitespace until max_tokens): without a stream it answers the raw text with finish_reason "length";
# its stream parser has already sent a partial call. The API answers a non-streamed request from the engine's stream
# (SageMaker allows InvokeEndpoint 60 s, a stream 8 min: docs/limits.md), so these cases differ on purpose.
ASSEMBLED_FROM_STREAM = pytest.mark.xfail(
    strict=True,
    reason="documented difference: a non-streamed answer is assembled from vLLM's stream (SageMaker's 60 s "
    "InvokeEndpoint limit); an unclosed forced tool call parses differently there (docs/engine-tests.md)",
)
