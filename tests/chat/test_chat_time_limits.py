"""SageMaker's time limits: 60 s for InvokeEndpoint, 8 minutes for InvokeEndpointWithResponseStream (docs/limits.md).

The emulator enforces both, scaled down (``invoke_limit``, ``stream_limit``) so a test takes a second, not minutes:
a non-streamed request must be able to take as long as a streamed one (the proxy streams and assembles the answer,
on every engine and prompt family), and a generation SageMaker cuts at its stream limit ends in a clear 504.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from chat_harness import MODEL_ID
from engine_stacks import Stack
from openai_schema import assert_conforms
from sagemaker_runtime_emulator import DEFAULT_TOKENS, Emulator

USER = [{"role": "user", "content": "Hi"}]
TEXT = "".join(DEFAULT_TOKENS)
# InvokeEndpoint would be cut after 0.2 s; the generation takes 7 x 0.1 s.
SLOW = {"invoke_limit": 0.2, "token_delay": 0.1}


def _sse_data(text: str) -> list[Any]:
    out = []
    for line in text.splitlines():
        if line.startswith("data:") and line[5:].strip() != "[DONE]":
            out.append(json.loads(line[5:]))
    return out


def test_a_non_streamed_chat_longer_than_invoke_endpoint_allows_succeeds(stack: Stack) -> None:
    stack.scenario(**SLOW)
    with stack.http() as http:
        response = http.post("/v1/chat/completions", json={"model": MODEL_ID, "messages": USER})
    assert response.status_code == 200, response.text
    body = response.json()
    assert_conforms("CreateChatCompletionResponse", body)
    assert body["choices"][0]["message"]["content"] == TEXT
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["completion_tokens"] >= len(DEFAULT_TOKENS)
    assert body["usage"]["prompt_tokens"] >= 1
    assert [r["stream"] for r in stack.emulator.requests] == [True]
    if stack.server and stack.engine == "vllm":
        # vLLM sends usage on a stream only when asked: the proxy asks.
        assert stack.emulator.requests[0]["payload"]["stream_options"] == {"include_usage": True}


def test_a_non_streamed_text_completion_longer_than_invoke_endpoint_allows_succeeds(stack: Stack) -> None:
    stack.scenario(**SLOW)
    with stack.http() as http:
        response = http.post("/v1/completions", json={"model": MODEL_ID, "prompt": "Say hello", "max_tokens": 16})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "text_completion"
    assert body["choices"][0]["text"] == TEXT
    assert body["usage"]["completion_tokens"] >= len(DEFAULT_TOKENS)
    assert all(r["stream"] for r in stack.emulator.requests)


def test_a_non_streamed_generate_longer_than_invoke_endpoint_allows_succeeds(stack: Stack) -> None:
    stack.scenario(**SLOW)
    with stack.http() as http:
        response = http.post("/generate", json={"inputs": "Say hello", "parameters": {"details": True}})
    assert response.status_code == 200, response.text
    (item,) = response.json()
    assert item["generated_text"] == TEXT
    details = item["details"]
    assert details["finish_reason"] in ("eos_token", "stop_sequence")
    assert details["generated_tokens"] >= len(DEFAULT_TOKENS)
    assert [t["text"] for t in details["tokens"] if not t["special"]] == DEFAULT_TOKENS
    assert all(r["stream"] for r in stack.emulator.requests)


def test_the_assembled_generate_keeps_return_full_text(stack: Stack) -> None:
    with stack.http() as http:
        response = http.post("/generate", json={"inputs": "Hi", "parameters": {"return_full_text": True}})
    assert response.json() == [{"generated_text": "Hi" + TEXT}]


@pytest.mark.parametrize("engine", ["tgi", "vllm"])
def test_the_assembled_chat_keeps_tool_calls(
    combo_apps: dict[str, str], session_emulator: Emulator, engine: str
) -> None:
    stack = Stack(combo_apps[f"{engine}/server"], engine, "server", session_emulator)
    calls = [{"name": "get_weather", "arguments": '{"city": "Berlin", "unit": "celsius"}'}]
    stack.scenario(tool_calls=calls, **SLOW)
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
    with stack.http() as http:
        response = http.post("/v1/chat/completions", json={"model": MODEL_ID, "messages": USER, "tools": [tool]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert_conforms("CreateChatCompletionResponse", body)
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    (call,) = choice["message"]["tool_calls"]
    assert call["function"] == {"name": "get_weather", "arguments": calls[0]["arguments"]}
    assert call["id"] and call["type"] == "function"
    assert choice["message"]["content"] is None
    assert body["usage"]["completion_tokens"] > 0


@pytest.mark.parametrize("engine", ["tgi", "vllm"])
def test_the_assembled_chat_keeps_logprobs(combo_apps: dict[str, str], session_emulator: Emulator, engine: str) -> None:
    stack = Stack(combo_apps[f"{engine}/server"], engine, "server", session_emulator)
    stack.scenario(**SLOW)
    request = {"model": MODEL_ID, "messages": USER, "logprobs": True, "top_logprobs": 2}
    with stack.http() as http:
        body = http.post("/v1/chat/completions", json=request).json()
    assert_conforms("CreateChatCompletionResponse", body)
    content = body["choices"][0]["logprobs"]["content"]
    assert [entry["token"] for entry in content] == DEFAULT_TOKENS
    assert all(len(entry["top_logprobs"]) == 2 for entry in content)


def test_a_generation_cut_at_the_stream_limit_is_a_clear_504(stack: Stack) -> None:
    # SageMaker cuts the stream after 0.3 s; the generation would take 40 x 0.1 s.
    stack.scenario(tokens=[f" t{i}" for i in range(40)], token_delay=0.1, stream_limit=0.3)
    with stack.http() as http:
        response = http.post("/v1/chat/completions", json={"model": MODEL_ID, "messages": USER})
    assert response.status_code == 504, response.text
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("timeout_error", "generation_time_limit")
    assert "8-minute limit" in error["message"] and "max_tokens" in error["message"]


def test_a_streamed_generation_cut_at_the_stream_limit_ends_with_that_error(stack: Stack) -> None:
    stack.scenario(tokens=[f" t{i}" for i in range(40)], token_delay=0.1, stream_limit=0.3)
    with stack.http() as http:
        response = http.post("/v1/chat/completions", json={"model": MODEL_ID, "messages": USER, "stream": True})
    assert response.status_code == 200  # the stream had started: the error is its last event
    events = _sse_data(response.text)
    assert events[-1]["error"]["code"] == "generation_time_limit"
    assert any(c.get("choices") and c["choices"][0]["delta"].get("content") for c in events[:-1])


def test_a_call_still_made_with_invoke_endpoint_past_its_limit_is_a_504(http: httpx.Client, emulator: Emulator) -> None:
    # TGI refuses decoder_input_details on a stream, so this /generate uses InvokeEndpoint and its 60 s.
    emulator.set_scenario(**SLOW)
    response = http.post("/generate", json={"inputs": "Hi", "parameters": {"decoder_input_details": True}})
    assert response.status_code == 504, response.text
    assert response.json()["error"]["code"] == "invocation_time_limit"
    assert [r["stream"] for r in emulator.requests] == [False]
