"""Chat completions: the same request to vLLM's own OpenAI server and through this API give the same answer.

Temperature 0 and a seed make the tiny model's (random) text reproducible; grammar-forced output (tools with
``required``/named ``tool_choice``, ``json_schema``) is valid JSON even from random weights.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from differential import ASSEMBLED_FROM_STREAM, compare, compare_stream, send
from engine_harness import EngineApi

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "maxLength": 12}},
                "required": ["city"],
                "additionalProperties": False,
            },
        },
    }
]
NAMED = {"type": "function", "function": {"name": "get_weather"}}
SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "answer",
        "schema": {
            "type": "object",
            "properties": {"answer": {"type": "string", "maxLength": 6}},
            "required": ["answer"],
            "additionalProperties": False,
        },
    },
}


def chat(api: EngineApi, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": api.model,
        "messages": [{"role": "user", "content": "Say hi"}],
        "temperature": 0,
        "seed": 7,
        "max_tokens": 8,
    }
    body.update(fields)
    return body


CASES: dict[str, dict[str, Any]] = {
    "plain": {},
    "system and history": {
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "Hi"},
            {"role": "user", "content": "Tell me a joke"},
        ]
    },
    "stop string": {"stop": ["o"], "max_tokens": 30},
    "max_completion_tokens": {"max_tokens": None, "max_completion_tokens": 6},
    "tools auto": {"tools": TOOLS, "tool_choice": "auto"},
    "tools none": {"tools": TOOLS, "tool_choice": "none"},
    "tools required": {"tools": TOOLS, "tool_choice": "required", "max_tokens": 60},
    "tools named": {"tools": TOOLS, "tool_choice": NAMED, "max_tokens": 60},
    "tool result turn": {
        "tools": TOOLS,
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        ],
    },
    "json_schema": {"response_format": SCHEMA, "max_tokens": 40},
    "json_object": {"response_format": {"type": "json_object"}, "max_tokens": 12},
    "logprobs": {"logprobs": True, "top_logprobs": 2},
    "presence and frequency penalties": {"presence_penalty": 0.5, "frequency_penalty": 0.5},
    "top_p": {"top_p": 0.5, "temperature": 0.7},
}
# Requests the API used to refuse where vLLM answers (the policy now passes them on: chatapi.policy).
POLICY_CASES: dict[str, dict[str, Any]] = {
    "n=2": {"n": 2, "temperature": 0.7},
    "vLLM sampling fields (extra_body)": {"top_k": 5, "min_p": 0.1, "repetition_penalty": 1.1},
    "logit_bias": {"logit_bias": {"10": 5}},
    "chat_template_kwargs": {"chat_template_kwargs": {"enable_thinking": False}},
    "no max_tokens: the rest of the context": {"max_tokens": None},
    "max_tokens near max_model_len": {"max_tokens": 2000},
}


def _body(api: EngineApi, case: dict[str, Any], **extra: Any) -> dict[str, Any]:
    body = chat(api, **case, **extra)
    return {k: v for k, v in body.items() if v is not None}


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, marks=ASSEMBLED_FROM_STREAM) if c in ("tools required", "tools named") else c for c in CASES],
    ids=list(CASES),
)
def test_chat_answer_equals_the_engines(engine_api: EngineApi, case: str) -> None:
    engine, _ = compare(engine_api, "POST", "chat/completions", _body(engine_api, CASES[case]))
    assert engine.status == 200, engine.body


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_chat_stream_equals_the_engines(engine_api: EngineApi, case: str) -> None:
    engine, _ = compare_stream(engine_api, "chat/completions", _body(engine_api, CASES[case], stream=True))
    assert engine.status == 200, engine.body


def test_chat_stream_with_usage_equals_the_engines(engine_api: EngineApi) -> None:
    body = chat(engine_api, stream=True, stream_options={"include_usage": True})
    engine, _ = compare_stream(engine_api, "chat/completions", body)
    assert engine.body[-2]["usage"]["completion_tokens"] == 8


@pytest.mark.parametrize("case", list(POLICY_CASES), ids=list(POLICY_CASES))
def test_chat_fields_the_engine_serves_are_served(engine_api: EngineApi, case: str) -> None:
    engine, _ = compare(engine_api, "POST", "chat/completions", _body(engine_api, POLICY_CASES[case]))
    assert engine.status == 200, engine.body


def _closed_named_call(api: EngineApi) -> dict[str, Any]:
    """A named tool call request whose forced call closes: greedy decoding of random weights may pick whitespace
    (which JSON allows anywhere) until max_tokens, so the call is sampled, with the first seed that closes it."""
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]  # fmt: skip
    for seed in range(1, 9):
        body = chat(api, tools=tools, tool_choice=NAMED, max_tokens=200, temperature=1.0, seed=seed)
        if send(api.vllm_url, "POST", "chat/completions", body).body["choices"][0]["message"].get("tool_calls"):
            return body
    pytest.fail("no seed produced a complete forced tool call within 200 tokens")


def test_grammar_forced_tool_call_is_the_same_valid_call_on_both_sides(engine_api: EngineApi) -> None:
    body = _closed_named_call(engine_api)
    calls = []
    for url in (engine_api.vllm_url, engine_api.api_url):
        (call,) = send(url, "POST", "chat/completions", body).body["choices"][0]["message"]["tool_calls"]
        assert call["function"]["name"] == "get_weather"
        assert isinstance(json.loads(call["function"]["arguments"])["city"], str)
        calls.append(call["function"])
    assert calls[0] == calls[1]


@pytest.mark.parametrize("stream", [False, True])
def test_named_tool_call_finish_reason_equals_the_engines(engine_api: EngineApi, stream: bool) -> None:
    body = _closed_named_call(engine_api)
    if stream:
        compare_stream(engine_api, "chat/completions", {**body, "stream": True})
    else:
        compare(engine_api, "POST", "chat/completions", body)
