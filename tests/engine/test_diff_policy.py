"""The request policy against the real engine (chatapi.policy, docs/api-fields.md): what vLLM serves, the API
serves with the same answer; where vLLM refuses, the API refuses with the same status; a model alias gets the
served model's answer. Temperature 0 and a seed make the tiny model's text reproducible."""

from __future__ import annotations

from typing import Any

import pytest
from differential import compare, compare_stream, send
from engine_harness import EngineApi


def completion(api: EngineApi, **fields: Any) -> dict[str, Any]:
    return {"model": api.model, "prompt": "Once upon", "temperature": 0, "seed": 7, "max_tokens": 6, **fields}


COMPLETION_CASES: dict[str, dict[str, Any]] = {
    "prompt list and n=2": {"prompt": ["Once upon", "The city"], "n": 2, "temperature": 0.8},  # vLLM: n > 1 samples
    "token ids": {"prompt": [5, 6, 7]},
    "token-id lists": {"prompt": [[5, 6, 7], [8, 9]]},
    "logprobs 0": {"logprobs": 0},
    "logprobs 3 and echo": {"logprobs": 3, "echo": True},
    "vLLM fields": {"top_k": 5, "min_p": 0.1, "repetition_penalty": 1.1, "min_tokens": 2},
    "logit_bias": {"logit_bias": {"10": 5}},
    "no max_tokens: vLLM's 16": {"max_tokens": None},
}


def _body(base: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in base.items() if v is not None}


@pytest.mark.parametrize("case", list(COMPLETION_CASES), ids=list(COMPLETION_CASES))
def test_completion_answer_equals_the_engines(engine_api: EngineApi, case: str) -> None:
    engine, _ = compare(engine_api, "POST", "completions", _body(completion(engine_api, **COMPLETION_CASES[case])))
    assert engine.status == 200, engine.body


@pytest.mark.parametrize("case", ["prompt list and n=2", "logprobs 0"])
def test_completion_stream_equals_the_engines(engine_api: EngineApi, case: str) -> None:
    body = _body(completion(engine_api, **COMPLETION_CASES[case], stream=True))
    engine, _ = compare_stream(engine_api, "completions", body)
    assert engine.status == 200, engine.body


def test_chat_n_stream_equals_the_engines(engine_api: EngineApi) -> None:
    body = {
        "model": engine_api.model,
        "messages": [{"role": "user", "content": "Say hi"}],
        "n": 2,
        "temperature": 0.8,
        "seed": 7,
        "max_tokens": 6,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    engine, _ = compare_stream(engine_api, "chat/completions", body)
    assert engine.status == 200, engine.body


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("completions", {"suffix": "end"}),  # vLLM 0.29: "suffix is not currently supported"
        ("completions", {"max_tokens": 5000}),  # more than max_model_len
        ("completions", {"stop": [""]}),
        ("chat/completions", {"max_tokens": 5000}),
        ("chat/completions", {"structured_outputs": {"json": {"type": "object"}, "regex": "a"}}),
    ],
    ids=["suffix", "completions max_tokens over the context", "empty stop", "chat max_tokens over the context",
         "two structured outputs"],
)  # fmt: skip
def test_what_vllm_refuses_the_api_refuses(engine_api: EngineApi, path: str, fields: dict[str, Any]) -> None:
    if path == "completions":
        body = completion(engine_api, **fields)
    else:
        body = {"model": engine_api.model, "messages": [{"role": "user", "content": "hi"}], **fields}
    engine = send(engine_api.vllm_url, "POST", path, body)
    api = send(engine_api.api_url, "POST", path, body)
    assert (engine.status, api.status) == (400, 400), (engine.body, api.body)


def test_an_alias_gets_the_served_models_answer(engine_api: EngineApi) -> None:
    alias = engine_api.model.rsplit("/", 1)[-1].lower()  # qwen2.5-7b-instruct: the preset's name
    body = {"messages": [{"role": "user", "content": "Say hi"}], "temperature": 0, "seed": 7, "max_tokens": 6}
    engine = send(engine_api.vllm_url, "POST", "chat/completions", {**body, "model": engine_api.model})
    api = send(engine_api.api_url, "POST", "chat/completions", {**body, "model": alias})
    assert (engine.status, api.status) == (200, 200), api.body
    assert api.body["model"] == engine_api.model
    assert api.body["choices"][0]["message"]["content"] == engine.body["choices"][0]["message"]["content"]


def test_an_unknown_model_is_a_404_on_both(engine_api: EngineApi) -> None:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    engine = send(engine_api.vllm_url, "POST", "chat/completions", body)
    api = send(engine_api.api_url, "POST", "chat/completions", body)
    assert (engine.status, api.status) == (404, 404)
    assert api.body["error"]["code"] == "model_not_found"


def test_models_carry_what_vllm_reports(engine_api: EngineApi) -> None:
    engine = send(engine_api.vllm_url, "GET", "models").body["data"][0]
    cards = send(engine_api.api_url, "GET", "models").body["data"]
    assert cards[0]["id"] == engine["id"]
    for card in cards:
        assert (card["owned_by"], card["max_model_len"], card["parent"]) == (
            engine["owned_by"],
            engine["max_model_len"],
            engine["parent"],
        )
        assert card["root"] == engine_api.model  # vLLM's root is the local model folder here
    assert [c["id"] for c in cards][1:] == [engine_api.model.rsplit("/", 1)[-1].lower()]
