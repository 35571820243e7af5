"""Bad input: always a 4xx with an OpenAI-shaped error naming the field, never a call to the model."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from chat_harness import BODY_LIMIT, MODEL_ID
from sagemaker_runtime_emulator import Emulator

USER = [{"role": "user", "content": "hi"}]


def assert_error(response: httpx.Response, status: int, param: str | None, code: str, fragment: str = "") -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert (body["error"]["param"], body["error"]["code"]) == (param, code), body
    assert fragment in body["error"]["message"]
    assert "Traceback" not in response.text


CHAT_CASES: list[tuple[str, dict[str, Any], str | None, str, str]] = [
    ("empty messages", {"messages": []}, "messages", "invalid_value", "at least 1 item"),
    ("missing messages", {}, "messages", "missing_required_parameter", "Missing required parameter"),
    ("unknown field", {"messages": USER, "temprature": 1}, "temprature", "unknown_parameter", "Unrecognized"),
    ("empty tools", {"messages": USER, "tools": []}, "tools", "invalid_value", "at least 1"),
    (
        "tools need server templates",
        {"messages": USER, "tools": [{"type": "function", "function": {"name": "f"}}]},
        "tools",
        "unsupported_parameter",
        "prompt_family=server",
    ),
    (
        "tool message needs server templates",
        {"messages": [{"role": "tool", "content": "x", "tool_call_id": "c1"}]},
        "messages[0].role",
        "unsupported_parameter",
        "",
    ),
    ("wrong role", {"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role", "invalid_value", "robot"),
    ("missing role", {"messages": [{"content": "x"}]}, "messages[0].role", "missing_required_parameter", ""),
    (
        "unknown message field",
        {"messages": [{"role": "user", "content": "x", "tool_calls": []}]},
        "messages[0].tool_calls",
        "unknown_parameter",
        "",
    ),
    ("content wrong type", {"messages": [{"role": "user", "content": 5}]}, "messages[0].content", "invalid_value", ""),
    (
        "image part",
        {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]},
        "messages[0].content[0].type",
        "unsupported_parameter",
        "",
    ),
    (
        "bad part type",
        {"messages": [{"role": "user", "content": [{"type": "video", "video": "x"}]}]},
        "messages[0].content[0].type",
        "invalid_value",
        "text, image_url",
    ),
    (
        "assistant last",
        {"messages": [*USER, {"role": "assistant", "content": "x"}]},
        "messages",
        "invalid_value",
        "last message",
    ),
    ("two users in a row", {"messages": [*USER, *USER]}, "messages[1].role", "invalid_value", "alternate"),
    (
        "system after user",
        {"messages": [*USER, {"role": "system", "content": "s"}]},
        "messages[1].role",
        "invalid_value",
        "before",
    ),
    ("max_tokens over cap", {"messages": USER, "max_tokens": 1025}, "max_tokens", "invalid_value", "limit of 1024"),
    (
        "max_completion_tokens over cap",
        {"messages": USER, "max_completion_tokens": 5000},
        "max_completion_tokens",
        "invalid_value",
        "limit",
    ),
    ("max_tokens zero", {"messages": USER, "max_tokens": 0}, "max_tokens", "invalid_value", ""),
    (
        "max_tokens disagree",
        {"messages": USER, "max_tokens": 5, "max_completion_tokens": 6},
        "max_tokens",
        "invalid_value",
        "disagree",
    ),
    ("max_tokens string", {"messages": USER, "max_tokens": "5"}, "max_tokens", "invalid_value", ""),
    ("temperature too high", {"messages": USER, "temperature": 2.5}, "temperature", "invalid_value", ""),
    ("top_p zero", {"messages": USER, "top_p": 0}, "top_p", "invalid_value", ""),
    ("n two", {"messages": USER, "n": 2}, "n", "unsupported_parameter", "one choice"),
    ("five stops", {"messages": USER, "stop": ["a", "b", "c", "d", "e"]}, "stop", "invalid_value", ""),
    (
        "three stops plus falcon's",
        {"messages": USER, "stop": ["a", "b", "c"]},
        "stop",
        "invalid_value",
        "At most 2 stop sequences",
    ),
    ("empty stop", {"messages": USER, "stop": [""]}, "stop", "invalid_value", "empty"),
    ("negative seed", {"messages": USER, "seed": -1}, "seed", "invalid_value", ""),
    (
        "stream_options without stream",
        {"messages": USER, "stream_options": {"include_usage": True}},
        "stream_options",
        "invalid_value",
        "only allowed",
    ),
    ("stream not bool", {"messages": USER, "stream": "yes"}, "stream", "invalid_value", ""),
    ("logprobs", {"messages": USER, "logprobs": True}, "logprobs", "unsupported_parameter", "PROMPT_FAMILY=falcon"),
    (
        "frequency_penalty",
        {"messages": USER, "frequency_penalty": 0.5},
        "frequency_penalty",
        "unsupported_parameter",
        "",
    ),
    (
        "frequency_penalty out of range",
        {"messages": USER, "frequency_penalty": 3},
        "frequency_penalty",
        "invalid_value",
        "",
    ),
    ("logit_bias", {"messages": USER, "logit_bias": {"1": 2}}, "logit_bias", "unsupported_parameter", "logit bias"),
    (
        "json_object format",
        {"messages": USER, "response_format": {"type": "json_object"}},
        "response_format.type",
        "unsupported_parameter",
        "",
    ),
    ("body is a list", [], None, "invalid_body", "JSON object"),  # type: ignore[list-item]
]


@pytest.mark.parametrize(("case", "body", "param", "code", "fragment"), CHAT_CASES, ids=[c[0] for c in CHAT_CASES])
def test_chat_bad_input(
    http: httpx.Client, emulator: Emulator, case: str, body: Any, param: str | None, code: str, fragment: str
) -> None:
    assert_error(http.post("/v1/chat/completions", json=body), 400, param, code, fragment)
    assert emulator.requests == []


def test_harmless_openai_fields_are_accepted(http: httpx.Client, emulator: Emulator) -> None:
    body = {
        "model": MODEL_ID,
        "messages": [{"role": "developer", "content": "d"}, {"role": "user", "content": "u", "name": "n"}],
        "user": "u1",
        "frequency_penalty": 0,
        "presence_penalty": 0.0,
        "logprobs": False,
        "logit_bias": {},
        "response_format": {"type": "text"},
        "metadata": {"k": "v"},
        "store": False,
        "n": 1,
    }
    assert http.post("/v1/chat/completions", json=body).status_code == 200
    assert emulator.requests[0]["payload"]["inputs"].startswith("d\n\nUser: u")


GENERATE_CASES: list[tuple[str, dict[str, Any], str | None, str]] = [
    ("missing inputs", {}, "inputs", "missing_required_parameter"),
    ("empty inputs", {"inputs": ""}, "inputs", "invalid_value"),
    (
        "unknown parameter",
        {"inputs": "x", "parameters": {"max_length": 3}},
        "parameters.max_length",
        "unknown_parameter",
    ),
    (
        "stream inside parameters",
        {"inputs": "x", "parameters": {"stream": True}},
        "parameters.stream",
        "unknown_parameter",
    ),
    ("temperature zero", {"inputs": "x", "parameters": {"temperature": 0}}, "parameters.temperature", "invalid_value"),
    ("top_p one", {"inputs": "x", "parameters": {"top_p": 1.0}}, "parameters.top_p", "invalid_value"),
    ("top_p zero", {"inputs": "x", "parameters": {"top_p": 0}}, "parameters.top_p", "invalid_value"),
    ("typical_p one", {"inputs": "x", "parameters": {"typical_p": 1}}, "parameters.typical_p", "invalid_value"),
    ("top_k zero", {"inputs": "x", "parameters": {"top_k": 0}}, "parameters.top_k", "invalid_value"),
    (
        "repetition_penalty zero",
        {"inputs": "x", "parameters": {"repetition_penalty": 0}},
        "parameters.repetition_penalty",
        "invalid_value",
    ),
    (
        "max_new_tokens zero",
        {"inputs": "x", "parameters": {"max_new_tokens": 0}},
        "parameters.max_new_tokens",
        "invalid_value",
    ),
    (
        "max_new_tokens over cap",
        {"inputs": "x", "parameters": {"max_new_tokens": 1025}},
        "parameters.max_new_tokens",
        "invalid_value",
    ),
    (
        "five stops",
        {"inputs": "x", "parameters": {"stop": ["a", "b", "c", "d", "e"]}},
        "parameters.stop",
        "invalid_value",
    ),
    ("truncate zero", {"inputs": "x", "parameters": {"truncate": 0}}, "parameters.truncate", "invalid_value"),
    (
        "truncate over input limit",
        {"inputs": "x", "parameters": {"truncate": 1025}},
        "parameters.truncate",
        "invalid_value",
    ),
    ("negative seed", {"inputs": "x", "parameters": {"seed": -1}}, "parameters.seed", "invalid_value"),
    ("best_of without sampling", {"inputs": "x", "parameters": {"best_of": 2}}, "parameters.best_of", "invalid_value"),
    (
        "best_of streaming",
        {"inputs": "x", "stream": True, "parameters": {"best_of": 2, "do_sample": True}},
        "parameters.best_of",
        "invalid_value",
    ),
    (
        "best_of with seed",
        {"inputs": "x", "parameters": {"best_of": 2, "do_sample": True, "seed": 1}},
        "parameters.seed",
        "invalid_value",
    ),
    (
        "best_of above TGI max",
        {"inputs": "x", "parameters": {"best_of": 3, "do_sample": True}},
        "parameters.best_of",
        "invalid_value",
    ),
    (
        "do_sample as string",
        {"inputs": "x", "parameters": {"do_sample": "true"}},
        "parameters.do_sample",
        "invalid_value",
    ),
    (
        "decoder_input_details streaming",
        {"inputs": "x", "stream": True, "parameters": {"decoder_input_details": True}},
        "parameters.decoder_input_details",
        "invalid_value",
    ),
]


@pytest.mark.parametrize(("case", "body", "param", "code"), GENERATE_CASES, ids=[c[0] for c in GENERATE_CASES])
def test_generate_bad_input(
    http: httpx.Client, emulator: Emulator, case: str, body: dict[str, Any], param: str | None, code: str
) -> None:
    assert_error(http.post("/generate", json=body), 400, param, code)
    assert emulator.requests == []


def test_malformed_json_is_400(http: httpx.Client) -> None:
    response = http.post(
        "/v1/chat/completions", content=b'{"messages": [', headers={"content-type": "application/json"}
    )
    assert_error(response, 400, None, "invalid_json", "could not parse the JSON")


def test_non_utf8_body_is_400(http: httpx.Client) -> None:
    body = '{"messages": [{"role": "user", "content": "caf\u00e9"}]}'.encode("latin-1")
    response = http.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})
    assert_error(response, 400, None, "invalid_encoding", "not valid UTF-8")


def test_nan_is_rejected(http: httpx.Client) -> None:
    body = b'{"messages": [{"role": "user", "content": "x"}], "temperature": NaN}'
    response = http.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})
    assert_error(response, 400, "temperature", "invalid_value")


def test_body_over_limit_by_content_length_is_413(http: httpx.Client, emulator: Emulator) -> None:
    big = {"messages": [{"role": "user", "content": "x" * BODY_LIMIT}]}
    assert_error(http.post("/v1/chat/completions", json=big), 413, None, "request_too_large", str(BODY_LIMIT))
    assert emulator.requests == []


def test_body_over_limit_while_streaming_upload_is_413(http: httpx.Client) -> None:
    def chunks():  # no Content-Length: chunked upload, so the cap must hold while reading
        yield b'{"inputs": "'
        for _ in range(BODY_LIMIT // 1024 + 1):
            yield b"x" * 1024
        yield b'"}'

    response = http.post("/generate", content=chunks(), headers={"content-type": "application/json"})
    assert_error(response, 413, None, "request_too_large")


def test_unknown_route_is_404_in_openai_shape(http: httpx.Client) -> None:
    response = http.get("/v1/engines")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found"


def test_wrong_method_is_405_in_openai_shape(http: httpx.Client) -> None:
    response = http.get("/v1/chat/completions")
    assert response.status_code == 405
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


# Valid JSON, not Unicode text: a lone UTF-16 surrogate escape (its bytes are plain ASCII, so UTF-8-valid).
SURROGATE_CASES: list[tuple[str, str, bytes, str]] = [
    (
        "chat content",
        "/v1/chat/completions",
        b'{"messages": [{"role": "user", "content": "hi \\ud800"}]}',
        "messages[0].content",
    ),
    (
        "chat stop",
        "/v1/chat/completions",
        b'{"messages": [{"role": "user", "content": "hi"}], "stop": ["\\udfff"]}',
        "stop[0]",
    ),
    (
        "chat stream",
        "/v1/chat/completions",
        b'{"messages": [{"role": "user", "content": "\\udbff x"}], "stream": true}',
        "messages[0].content",
    ),
    ("unknown key", "/v1/chat/completions", b'{"messages": [], "\\ud800": 1}', "\\ud800"),
    ("completions prompt", "/v1/completions", b'{"prompt": "a\\udc00b"}', "prompt"),
    ("completions stop", "/v1/completions", b'{"prompt": "a", "stop": "\\ud800"}', "stop"),
    ("generate inputs", "/generate", b'{"inputs": "\\ud83d"}', "inputs"),
    (
        "generate stop",
        "/generate",
        b'{"inputs": "x", "parameters": {"stop": ["\\ud800"]}, "stream": true}',
        "parameters.stop[0]",
    ),
]


@pytest.mark.parametrize(("case", "route", "raw", "param"), SURROGATE_CASES, ids=[c[0] for c in SURROGATE_CASES])
def test_lone_surrogates_are_400_on_every_route(stack, case: str, route: str, raw: bytes, param: str) -> None:  # type: ignore[no-untyped-def]
    with stack.http() as http:
        response = http.post(route, content=raw, headers={"content-type": "application/json"})
    assert_error(response, 400, param, "invalid_encoding", "surrogate")
    assert stack.emulator.requests == []


def test_a_valid_surrogate_pair_is_fine(http: httpx.Client, emulator: Emulator) -> None:
    raw = b'{"messages": [{"role": "user", "content": "smile \\ud83d\\ude00"}]}'
    response = http.post("/v1/chat/completions", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 200
    assert "\U0001f600" in emulator.requests[0]["payload"]["inputs"]


COMPLETION_CASES: list[tuple[str, dict[str, Any], str | None, str]] = [
    ("missing prompt", {}, "prompt", "missing_required_parameter"),
    ("empty prompt", {"prompt": ""}, "prompt", "invalid_value"),
    ("negative token id", {"prompt": [-1, 2, 3]}, "prompt[0]", "invalid_value"),
    ("empty prompt list", {"prompt": []}, "prompt", "invalid_value"),
    ("unknown field", {"prompt": "x", "max_length": 3}, "max_length", "unknown_parameter"),
    ("n over OpenAI's 128", {"prompt": "x", "n": 129}, "n", "invalid_value"),
    ("negative logprobs", {"prompt": "x", "logprobs": -1}, "logprobs", "invalid_value"),
    ("best_of two", {"prompt": "x", "best_of": 2}, "best_of", "invalid_value"),
    ("prompt_embeds", {"prompt": "x", "prompt_embeds": "AAAA"}, "prompt_embeds", "unsupported_parameter"),
    ("empty stop", {"prompt": "x", "stop": [""]}, "stop", "invalid_value"),
    ("five stops", {"prompt": "x", "stop": ["a", "b", "c", "d", "e"]}, "stop", "invalid_value"),
    (
        "stream_options alone",
        {"prompt": "x", "stream_options": {"include_usage": True}},
        "stream_options",
        "invalid_value",
    ),
    ("temperature string", {"prompt": "x", "temperature": "1"}, "temperature", "invalid_value"),
]


@pytest.mark.parametrize(("case", "body", "param", "code"), COMPLETION_CASES, ids=[c[0] for c in COMPLETION_CASES])
def test_completions_bad_input(stack, case: str, body: dict[str, Any], param: str | None, code: str) -> None:  # type: ignore[no-untyped-def]
    with stack.http() as http:
        assert_error(http.post("/v1/completions", json=body), 400, param, code)
    assert stack.emulator.requests == []


# What vLLM serves but TGI's /generate dialect cannot do: refused on TGI, naming the field and the reason
# (chatapi.policy); on vLLM these pass through (test_chat_policy.py).
TGI_COMPLETION_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("token prompt", {"prompt": [1, 2, 3]}, "prompt", "one text prompt"),
    ("two prompts", {"prompt": ["a", "b"]}, "prompt", "one text prompt"),
    ("max_tokens over cap", {"prompt": "x", "max_tokens": 1025}, "max_tokens", "limit of 1024"),
    ("n two", {"prompt": "x", "n": 2}, "n", "one completion per request"),
    ("logprobs", {"prompt": "x", "logprobs": 2}, "logprobs", "not returned"),
    ("logprobs 0", {"prompt": "x", "logprobs": 0}, "logprobs", "not returned"),
    ("suffix", {"prompt": "x", "suffix": "y"}, "suffix", "not supported"),
    ("penalty", {"prompt": "x", "presence_penalty": 1}, "presence_penalty", "not supported"),
    ("logit_bias", {"prompt": "x", "logit_bias": {"1": 5}}, "logit_bias", "logit bias"),
    ("vLLM's top_k", {"prompt": "x", "top_k": 5}, "top_k", "TGI has no equivalent"),
]


@pytest.mark.parametrize(
    ("case", "body", "param", "fragment"), TGI_COMPLETION_CASES, ids=[c[0] for c in TGI_COMPLETION_CASES]
)
@pytest.mark.parametrize("family", ["falcon", "server"])
def test_completions_tgi_cannot(
    combo_apps, session_emulator, family: str, case: str, body: dict[str, Any], param: str, fragment: str
) -> None:  # type: ignore[no-untyped-def]
    from engine_stacks import make_stack

    stack = make_stack(combo_apps, session_emulator, "tgi", family)
    with stack.http() as http:
        response = http.post("/v1/completions", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param
    assert fragment in error["message"]
    assert stack.emulator.requests == []


VLLM_GENERATE_CASES = [
    ("typical_p", {"typical_p": 0.5}),
    ("watermark", {"watermark": True}),
    ("decoder_input_details", {"decoder_input_details": True}),
    ("best_of", {"best_of": 2, "do_sample": True}),
]


@pytest.mark.parametrize(("name", "params"), VLLM_GENERATE_CASES, ids=[c[0] for c in VLLM_GENERATE_CASES])
def test_generate_parameters_vllm_cannot_honour_are_400(combo_apps, session_emulator, name: str, params: dict) -> None:  # type: ignore[no-untyped-def]
    from engine_stacks import make_stack

    stack = make_stack(combo_apps, session_emulator, "vllm", "falcon")
    with stack.http() as http:
        response = http.post("/generate", json={"inputs": "x", "parameters": params})
    assert_error(response, 400, f"parameters.{name}", "unsupported_parameter", "vLLM engine")
    assert stack.emulator.requests == []
