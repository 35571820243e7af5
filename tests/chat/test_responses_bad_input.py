"""Bad input on ``/v1/responses``: a 4xx OpenAI-shaped error naming the field (checked against the spec's
``ErrorResponse``), and the model never called."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from chat_harness import BODY_LIMIT
from openai_schema import assert_conforms
from sagemaker_runtime_emulator import Emulator
from test_chat_bad_input import assert_error

FN = {"type": "function", "name": "f", "parameters": {"type": "object"}}

CASES: list[tuple[str, Any, str | None, str, str]] = [
    ("missing input", {}, "input", "missing_required_parameter", "Missing required parameter"),
    ("empty input string", {"input": ""}, "input", "invalid_value", "at least 1 character"),
    ("empty input list", {"input": []}, "input", "invalid_value", "at least 1 item"),
    ("input wrong type", {"input": 5}, "input", "invalid_value", ""),
    ("unknown field", {"input": "x", "temprature": 1}, "temprature", "unknown_parameter", "Unrecognized"),
    ("wrong item type", {"input": [{"type": "banana"}]}, "input[0].type", "invalid_value", "banana"),
    ("item without type or role", {"input": [{"content": "x"}]}, "input[0].type", "missing_required_parameter", ""),
    ("wrong role", {"input": [{"role": "robot", "content": "x"}]}, "input[0].role", "invalid_value", "'user'"),
    ("empty content list", {"input": [{"role": "user", "content": []}]}, "input[0].content", "invalid_value", ""),
    (
        "wrong part type",
        {"input": [{"role": "user", "content": [{"type": "text", "text": "x"}]}]},
        "input[0].content[0].type",
        "invalid_value",
        "input_text",
    ),
    (
        "function_call without call_id",
        {"input": [{"type": "function_call", "name": "f", "arguments": "{}"}]},
        "input[0].call_id",
        "missing_required_parameter",
        "",
    ),
    (
        "function_call_output output not text",
        {"input": [{"type": "function_call_output", "call_id": "c", "output": 5}]},
        "input[0].output",
        "invalid_value",
        "",
    ),
    ("temperature out of range", {"input": "x", "temperature": 3}, "temperature", "invalid_value", ""),
    ("max_output_tokens zero", {"input": "x", "max_output_tokens": 0}, "max_output_tokens", "invalid_value", ""),
    (
        "max_output_tokens over the cap",
        {"input": "x", "max_output_tokens": 100000},
        "max_output_tokens",
        "invalid_value",
        "max_output_tokens=100000",
    ),
    ("hosted tool", {"input": "x", "tools": [{"type": "web_search"}]}, "tools[0].type", "unsupported_parameter", ""),
    (
        "file_search tool",
        {"input": "x", "tools": [{"type": "file_search", "vector_store_ids": ["v"]}]},
        "tools[0].type",
        "unsupported_parameter",
        "hosted tools",
    ),
    ("bad function name", {"input": "x", "tools": [{**FN, "name": "a b"}]}, "tools[0].name", "invalid_value", ""),
    ("background", {"input": "x", "background": True}, "background", "unsupported_parameter", "stream"),
    ("conversation", {"input": "x", "conversation": "conv_1"}, "conversation", "unsupported_parameter", ""),
    ("include", {"input": "x", "include": ["reasoning.encrypted_content"]}, "include", "unsupported_parameter", ""),
    ("truncation auto", {"input": "x", "truncation": "auto"}, "truncation", "unsupported_parameter", ""),
    ("stored prompt", {"input": "x", "prompt": {"id": "pmpt_1"}}, "prompt", "unsupported_parameter", ""),
    (
        "reasoning effort",
        {"input": "x", "reasoning": {"effort": "high"}},
        "reasoning.effort",
        "unsupported_parameter",
        "",
    ),
    (
        "hosted tool_choice",
        {"input": "x", "tool_choice": {"type": "file_search"}},
        "tool_choice",
        "unsupported_parameter",
        "",
    ),
    (
        "item_reference",
        {"input": [{"type": "item_reference", "id": "msg_1"}]},
        "input[0].type",
        "unsupported_parameter",
        "",
    ),
    (
        "input_file",
        {"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "file-1"}]}]},
        "input[0].content[0].type",
        "unsupported_parameter",
        "",
    ),
    (
        "input_image needs a URL",
        {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file-1"}]}]},
        "input[0].content[0].image_url",
        "unsupported_parameter",
        "",
    ),
    (
        "image on a prompt-rendering family",
        {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "https://x/y.png"}]}]},
        "input[0].content[0].type",
        "unsupported_parameter",
        "",
    ),
    (
        "previous_response_id without a store",
        {"input": "x", "previous_response_id": "resp_1"},
        "previous_response_id",
        "store_disabled",
        "responses_store=true",
    ),
    ("body is a list", [], None, "invalid_body", "JSON object"),
]


@pytest.mark.parametrize(("case", "body", "param", "code", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_responses_bad_input(
    http: httpx.Client, emulator: Emulator, case: str, body: Any, param: str | None, code: str, fragment: str
) -> None:
    response = http.post("/v1/responses", json=body)
    assert_error(response, 400, param, code, fragment)
    assert_conforms("ErrorResponse", response.json())
    assert emulator.requests == []


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        (b'{"input": "hi \\ud800"}', "input"),
        (b'{"input": [{"role": "user", "content": [{"type": "input_text", "text": "\\udfff"}]}]}',
         "input[0].content[0].text"),
        (b'{"input": "x", "instructions": "\\udbff", "stream": true}', "instructions"),
    ],
)  # fmt: skip
def test_lone_surrogates_are_400(http: httpx.Client, emulator: Emulator, raw: bytes, param: str) -> None:
    response = http.post("/v1/responses", content=raw, headers={"content-type": "application/json"})
    assert_error(response, 400, param, "invalid_encoding", "surrogate")
    assert emulator.requests == []


def test_huge_input_is_413_before_parsing(http: httpx.Client, emulator: Emulator) -> None:
    response = http.post("/v1/responses", json={"input": "x" * (BODY_LIMIT + 1)})
    assert_error(response, 413, None, "request_too_large", str(BODY_LIMIT))
    assert emulator.requests == []


def test_many_items_within_the_body_limit_reach_the_model_in_order(http: httpx.Client, emulator: Emulator) -> None:
    turns = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i}"} for i in range(201)]
    response = http.post("/v1/responses", json={"input": turns})
    assert response.status_code == 200, response.text
    prompt = emulator.requests[-1]["payload"]["inputs"]
    assert prompt.index("turn 0") < prompt.index("turn 100") < prompt.index("turn 200")


@pytest.mark.parametrize("path", ["/v1/responses/resp_0123", "/v1/responses/anything"])
def test_get_and_delete_without_a_store_say_how_to_enable_it(http: httpx.Client, path: str) -> None:
    for method in ("GET", "DELETE"):
        response = http.request(method, path)
        assert_error(response, 400, None, "store_disabled", "responses_store=true")


def test_store_true_is_accepted_and_reported_false_without_a_store(http: httpx.Client) -> None:
    body = http.post("/v1/responses", json={"input": "x", "store": True}).json()
    assert body["store"] is False
    assert_conforms("Response", body)
