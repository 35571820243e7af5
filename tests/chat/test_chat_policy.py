"""The request policy (chatapi.policy, docs/api-fields.md): on vLLM the API passes what vLLM serves and injects no
default vLLM would not apply; what TGI cannot do, and what no engine should be asked for, is a 400 naming the field
and the reason; ``model`` must name the served model or its alias. Driven by the real openai client where a
client would send the field, checked on what the engine receives."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from chat_harness import MODEL_ID, app_env, start_app
from engine_stacks import Stack, make_stack
from openai_schema import assert_conforms, chunks_of
from sagemaker_runtime_emulator import Emulator

USER = [{"role": "user", "content": "Hi"}]
TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}
CALL = {"name": "get_weather", "arguments": '{"city": "Paris"}'}


@pytest.fixture
def vllm(combo_apps: dict[str, str], session_emulator: Emulator) -> Stack:
    return make_stack(combo_apps, session_emulator, "vllm", "server")


@pytest.fixture
def tgi(combo_apps: dict[str, str], session_emulator: Emulator) -> Stack:
    return make_stack(combo_apps, session_emulator, "tgi", "server")


def sent(stack: Stack) -> dict[str, Any]:
    (request,) = stack.emulator.requests
    return request["payload"]


def refused(response: httpx.Response, param: str, fragment: str) -> None:
    assert response.status_code == 400, response.text
    assert_conforms("ErrorResponse", response.json())
    error = response.json()["error"]
    assert (error["param"], error["code"]) == (param, "unsupported_parameter"), error
    assert fragment in error["message"], error["message"]


# --- n > 1 ------------------------------------------------------------------------------------------------------


def test_chat_n_choices(vllm: Stack) -> None:
    with vllm.openai() as client:
        completion = client.chat.completions.create(model=MODEL_ID, messages=USER, n=3)  # type: ignore[arg-type]
    assert_conforms("CreateChatCompletionResponse", completion.model_dump(mode="json", exclude_unset=True))
    assert [c.index for c in completion.choices] == [0, 1, 2]
    assert sent(vllm)["n"] == 3
    assert completion.usage is not None and completion.usage.completion_tokens == 3 * 7  # every choice counted


def test_chat_n_choices_streamed(vllm: Stack) -> None:
    with vllm.http() as http:
        body = {"messages": USER, "n": 2, "stream": True, "stream_options": {"include_usage": True}}
        chunks = chunks_of(http.post("/v1/chat/completions", json=body).text)
    for chunk in chunks:
        assert_conforms("CreateChatCompletionStreamResponse", chunk)
    texts = {i: "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"] and c["choices"][0]["index"] == i) for i in (0, 1)}  # fmt: skip  # noqa: E501
    assert texts[0] == texts[1] == "Hello! How can I help?"
    assert chunks[-1]["usage"]["completion_tokens"] == 2 * 7


@pytest.mark.parametrize("family", ["server", "falcon"])
def test_tgi_refuses_n(combo_apps: dict[str, str], session_emulator: Emulator, family: str) -> None:
    stack = make_stack(combo_apps, session_emulator, "tgi", family)
    with stack.http() as http:
        refused(http.post("/v1/chat/completions", json={"messages": USER, "n": 2}), "n", "one choice")
    assert stack.emulator.requests == []


# --- vLLM's own fields (extra_body) ------------------------------------------------------------------------------

VLLM_EXTRA = {
    "top_k": 20,
    "min_p": 0.05,
    "repetition_penalty": 1.1,
    "structured_outputs": {"choice": ["yes", "no"]},
    "chat_template_kwargs": {"enable_thinking": False},
    "skip_special_tokens": False,
    "include_stop_str_in_output": True,
    "min_tokens": 2,
    "ignore_eos": False,
    "stop_token_ids": [7],
    "bad_words": ["darn"],
    "allowed_token_ids": [1, 2, 3],
    "cache_salt": "s" * 43,
    "truncate_prompt_tokens": 100,
    "use_beam_search": False,
    "prompt_logprobs": 1,
}


def test_vllm_extra_body_passes_through(vllm: Stack) -> None:
    with vllm.openai() as client:
        client.chat.completions.create(model=MODEL_ID, messages=USER, extra_body=VLLM_EXTRA)  # type: ignore[arg-type]
    payload = sent(vllm)
    assert {k: payload[k] for k in VLLM_EXTRA} == VLLM_EXTRA


def test_vllm_completions_extra_body_passes_through(vllm: Stack) -> None:
    extra = {k: VLLM_EXTRA[k] for k in ("top_k", "min_p", "repetition_penalty", "structured_outputs", "min_tokens")}
    with vllm.openai() as client:
        client.completions.create(model=MODEL_ID, prompt="Once", extra_body=extra)
    payload = sent(vllm)
    assert {k: payload[k] for k in extra} == extra


def test_guided_json_maps_to_structured_outputs(vllm: Stack) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    with vllm.openai() as client:
        client.chat.completions.create(
            model=MODEL_ID,
            messages=USER,  # type: ignore[arg-type]
            extra_body={"guided_json": schema, "guided_whitespace_pattern": " ?", "guided_decoding_backend": "auto"},
        )
    payload = sent(vllm)
    assert payload["structured_outputs"] == {"json": schema, "whitespace_pattern": " ?"}
    assert not {"guided_json", "guided_whitespace_pattern", "guided_decoding_backend"} & set(payload)


DANGEROUS = [
    ("chat_template", "{{ 7 * 7 }}", "--trust-request-chat-template"),
    ("media_io_kwargs", {"image": {"timeout": 999}}, "fetches"),
    ("mm_processor_kwargs", {"max_pixels": 10**9}, "limits"),
    ("kv_transfer_params", {"remote_host": "10.0.0.1"}, "other requests"),
    ("ec_transfer_params", {"x": 1}, "other requests"),
    ("vllm_xargs", {"x": 1}, "extensions"),
    ("priority", -100, "queue"),
    ("request_id", "someone-elses-id", "collide"),
]


@pytest.mark.parametrize(("name", "value", "fragment"), DANGEROUS, ids=[d[0] for d in DANGEROUS])
def test_dangerous_vllm_fields_are_refused(vllm: Stack, name: str, value: Any, fragment: str) -> None:
    with vllm.http() as http:
        refused(http.post("/v1/chat/completions", json={"messages": USER, name: value}), name, fragment)
    assert vllm.emulator.requests == []


def test_prompt_embeds_are_refused(vllm: Stack) -> None:
    with vllm.http() as http:
        refused(http.post("/v1/completions", json={"prompt": "x", "prompt_embeds": "AAAA"}), "prompt_embeds", "torch")
    assert vllm.emulator.requests == []


@pytest.mark.parametrize("family", ["server", "falcon"])
def test_tgi_refuses_vllm_fields(combo_apps: dict[str, str], session_emulator: Emulator, family: str) -> None:
    stack = make_stack(combo_apps, session_emulator, "tgi", family)
    with stack.http() as http:
        refused(http.post("/v1/chat/completions", json={"messages": USER, "top_k": 5}), "top_k", "vLLM parameter")
    assert stack.emulator.requests == []


def test_logit_bias_passes_on_vllm(vllm: Stack) -> None:
    with vllm.openai() as client:
        client.chat.completions.create(model=MODEL_ID, messages=USER, logit_bias={"42": -100})  # type: ignore[arg-type]
    assert sent(vllm)["logit_bias"] == {"42": -100}


def test_tgi_refuses_logit_bias(tgi: Stack) -> None:
    with tgi.http() as http:
        response = http.post("/v1/chat/completions", json={"messages": USER, "logit_bias": {"42": 5}})
    refused(response, "logit_bias", "unused")


# --- /v1/completions on vLLM: passed through ------------------------------------------------------------------


def test_completions_prompt_lists_and_n(vllm: Stack) -> None:
    with vllm.openai() as client:
        completion = client.completions.create(model=MODEL_ID, prompt=["Once", "Twice"], n=2, max_tokens=5)
    assert_conforms("CreateCompletionResponse", completion.model_dump(mode="json", exclude_unset=True))
    assert [c.index for c in completion.choices] == [0, 1, 2, 3]
    assert (sent(vllm)["prompt"], sent(vllm)["n"]) == (["Once", "Twice"], 2)


@pytest.mark.parametrize("prompt", [[1, 2, 3], [[1, 2], [3]]], ids=["token ids", "token-id lists"])
def test_completions_token_prompts(vllm: Stack, prompt: Any) -> None:
    with vllm.http() as http:
        response = http.post("/v1/completions", json={"model": MODEL_ID, "prompt": prompt})
    assert response.status_code == 200, response.text
    assert sent(vllm)["prompt"] == prompt


@pytest.mark.parametrize("logprobs", [0, 3])
def test_completions_logprobs_pass_through(vllm: Stack, logprobs: int) -> None:
    with vllm.openai() as client:
        client.completions.create(model=MODEL_ID, prompt="Once", logprobs=logprobs, echo=True)
    assert (sent(vllm)["logprobs"], sent(vllm)["echo"]) == (logprobs, True)


def test_completions_suffix_goes_to_the_engine(vllm: Stack) -> None:
    with vllm.openai() as client:
        client.completions.create(model=MODEL_ID, prompt="def f(", suffix="return x")
    assert sent(vllm)["suffix"] == "return x"


def test_completions_stream_n_choices(vllm: Stack) -> None:
    with vllm.http() as http:
        body = {"prompt": "Once", "n": 2, "stream": True, "stream_options": {"include_usage": True}}
        chunks = chunks_of(http.post("/v1/completions", json=body).text)
    assert {c["choices"][0]["index"] for c in chunks if c["choices"]} == {0, 1}
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 2 * 7
    assert sent(vllm)["stream_options"] == {"include_usage": True}


def test_completions_stream_usage_only_when_asked(vllm: Stack) -> None:
    with vllm.http() as http:
        chunks = chunks_of(http.post("/v1/completions", json={"prompt": "Once", "stream": True}).text)
    assert chunks and all("usage" not in c for c in chunks)


# --- defaults equal the engine's ------------------------------------------------------------------------------


def test_no_max_tokens_cap_on_vllm(vllm: Stack) -> None:
    """The old cap (MAX_TOTAL_TOKENS - MAX_INPUT_TOKENS = 1024) is gone: vLLM checks max_model_len - prompt."""
    with vllm.openai() as client:
        client.chat.completions.create(model=MODEL_ID, messages=USER, max_tokens=1500)  # type: ignore[arg-type]
    assert sent(vllm)["max_tokens"] == 1500


def test_omitted_limits_and_sampling_stay_omitted_on_vllm(vllm: Stack) -> None:
    with vllm.openai() as client:
        client.completions.create(model=MODEL_ID, prompt="Once")
    assert not {"max_tokens", "temperature", "top_p", "top_k"} & set(sent(vllm))


def test_proxy_family_on_vllm_injects_no_temperature(combo_apps: dict[str, str], session_emulator: Emulator) -> None:
    stack = make_stack(combo_apps, session_emulator, "vllm", "falcon")
    with stack.openai() as client:
        client.chat.completions.create(model=MODEL_ID, messages=USER)  # type: ignore[arg-type]
    assert "temperature" not in sent(stack)


def test_tgi_keeps_its_cap(tgi: Stack) -> None:
    with tgi.http() as http:
        response = http.post("/v1/chat/completions", json={"messages": USER, "max_tokens": 1025})
    assert response.status_code == 400 and response.json()["error"]["param"] == "max_tokens"


# --- model names --------------------------------------------------------------------------------------------------

SERVED = "Qwen/Qwen2.5-7B-Instruct"
ALIAS = "qwen2.5-7b-instruct"


@pytest.fixture(scope="module")
def aliased(session_emulator: Emulator) -> Iterator[str]:
    """A vLLM server-mode app serving a Hub id with an alias, and an operator default for max_tokens."""
    env = app_env(
        session_emulator.url,
        MODEL_ID=SERVED,
        MODEL_ALIASES=ALIAS,
        ENGINE="vllm",
        PROMPT_FAMILY="server",
        DEFAULT_MAX_NEW_TOKENS="300",
    )
    proc, url = start_app(env, Path(tempfile.mkdtemp()) / "app.log")
    yield url
    proc.terminate()
    proc.wait(10)


def test_alias_is_accepted_and_the_engine_gets_the_served_name(aliased: str, session_emulator: Emulator) -> None:
    session_emulator.set_scenario(engine="vllm", served_model_name=SERVED)
    client = openai.OpenAI(base_url=aliased + "/v1", api_key="unused", max_retries=0, timeout=15)
    completion = client.chat.completions.create(model=ALIAS, messages=USER)  # type: ignore[arg-type]
    client.completions.create(model=ALIAS, prompt="Once")
    assert completion.model == SERVED
    assert [r["payload"]["model"] for r in session_emulator.requests] == [SERVED, SERVED]


def test_operator_default_max_tokens(aliased: str, session_emulator: Emulator) -> None:
    session_emulator.set_scenario(engine="vllm", served_model_name=SERVED)
    with httpx.Client(base_url=aliased, timeout=15) as http:
        http.post("/v1/chat/completions", json={"messages": USER})
        http.post("/v1/completions", json={"prompt": "x"})
        http.post("/v1/chat/completions", json={"messages": USER, "max_completion_tokens": 9})
    sent_limits = [(r["payload"].get("max_tokens"), r["payload"].get("max_completion_tokens")) for r in session_emulator.requests]  # fmt: skip  # noqa: E501
    assert sent_limits == [(300, None), (300, None), (None, 9)]


def test_models_list_the_alias_with_what_vllm_reports(aliased: str) -> None:
    client = openai.OpenAI(base_url=aliased + "/v1", api_key="unused", max_retries=0, timeout=15)
    cards = client.models.list().data
    assert [c.id for c in cards] == [SERVED, ALIAS]
    for card in cards:
        extra = card.model_dump()
        assert (extra["root"], extra["parent"], extra["max_model_len"], card.owned_by) == (SERVED, None, 2048, "vllm")
    assert client.models.retrieve(ALIAS).id == ALIAS


@pytest.mark.parametrize("route", ["/v1/chat/completions", "/v1/completions"])
def test_unknown_model_is_openais_404(stack: Stack, route: str) -> None:
    body: dict[str, Any] = (
        {"model": "gpt-4o", "messages": USER} if "chat" in route else {"model": "gpt-4o", "prompt": "x"}
    )
    with stack.http() as http:
        response = http.post(route, json=body)
    assert response.status_code == 404
    assert_conforms("ErrorResponse", response.json())
    error = response.json()["error"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", "model", "model_not_found")
    assert stack.emulator.requests == []


# --- fields current clients send (issue 22) -------------------------------------------------------------------


def test_reasoning_effort_passes_on_vllm(vllm: Stack) -> None:
    with vllm.openai() as client:
        client.chat.completions.create(model=MODEL_ID, messages=USER, reasoning_effort="low")  # type: ignore[arg-type]
    assert sent(vllm)["reasoning_effort"] == "low"


def test_tgi_refuses_reasoning_effort(tgi: Stack) -> None:
    with tgi.http() as http:
        response = http.post("/v1/chat/completions", json={"messages": USER, "reasoning_effort": "low"})
    refused(response, "reasoning_effort", "no reasoning switch")


def test_no_effect_fields_are_accepted_and_not_forwarded(stack: Stack) -> None:
    harmless = {
        "prompt_cache_key": "k",
        "safety_identifier": "user-1",
        "verbosity": "low",
        "modalities": ["text"],
        "audio": None,
        "prediction": {"type": "content", "content": "Hello"},
        "prompt_cache_retention": "24h",
    }
    with stack.http() as http:
        response = http.post("/v1/chat/completions", json={"messages": USER, **harmless})
    assert response.status_code == 200, response.text
    assert not set(harmless) & set(sent(stack))


REFUSED_EVERYWHERE = [
    ("modalities", ["text", "audio"], "text only"),
    ("audio", {"voice": "alloy", "format": "mp3"}, "text only"),
    ("web_search_options", {}, "no web search"),
    ("moderation", {}, "no moderation"),
]


@pytest.mark.parametrize(("name", "value", "fragment"), REFUSED_EVERYWHERE, ids=[r[0] for r in REFUSED_EVERYWHERE])
def test_features_this_api_lacks_are_refused(stack: Stack, name: str, value: Any, fragment: str) -> None:
    with stack.http() as http:
        refused(http.post("/v1/chat/completions", json={"messages": USER, name: value}), name, fragment)
    assert stack.emulator.requests == []


@pytest.mark.parametrize("engine", ["vllm", "tgi"])
def test_legacy_functions_map_to_tools_and_back(
    combo_apps: dict[str, str], session_emulator: Emulator, engine: str
) -> None:
    stack = make_stack(combo_apps, session_emulator, engine, "server")
    stack.scenario(tool_calls=[CALL])
    with stack.http() as http:
        body = {"messages": USER, "functions": [TOOL["function"]], "function_call": {"name": "get_weather"}}
        answer = http.post("/v1/chat/completions", json=body).json()
    assert_conforms("CreateChatCompletionResponse", answer)
    choice = answer["choices"][0]
    # A named function: vLLM says "stop" (as OpenAI did for a forced function_call); TGI's tool call is mapped.
    assert choice["finish_reason"] == ("stop" if engine == "vllm" else "function_call")
    assert choice["message"]["function_call"] == CALL and "tool_calls" not in choice["message"]
    payload = sent(stack)
    assert payload["tools"] == [TOOL] and "functions" not in payload
    assert payload["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


def test_legacy_functions_with_tools_is_a_400_naming_it(vllm: Stack) -> None:
    body = {"messages": USER, "functions": [TOOL["function"]], "tools": [TOOL]}
    with vllm.http() as http:
        refused(http.post("/v1/chat/completions", json=body), "functions", "not both")
    assert vllm.emulator.requests == []


def test_legacy_functions_streamed(vllm: Stack) -> None:
    vllm.scenario(tool_calls=[CALL])
    with vllm.http() as http:
        body = {"messages": USER, "functions": [TOOL["function"]], "stream": True}
        chunks = chunks_of(http.post("/v1/chat/completions", json=body).text)
    for chunk in chunks:
        assert_conforms("CreateChatCompletionStreamResponse", chunk)
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert "".join(d.get("function_call", {}).get("arguments", "") for d in deltas) == CALL["arguments"]
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]] == [
        "function_call"
    ]


def test_legacy_function_turns_become_tool_turns(vllm: Stack) -> None:
    messages = [
        *USER,
        {"role": "assistant", "content": None, "function_call": CALL},
        {"role": "function", "name": "get_weather", "content": "sunny"},
    ]
    with vllm.http() as http:
        response = http.post("/v1/chat/completions", json={"messages": messages, "functions": [TOOL["function"]]})
    assert response.status_code == 200, response.text
    assistant, tool = sent(vllm)["messages"][1:]
    (call,) = assistant["tool_calls"]
    assert call["function"] == CALL
    assert tool == {"role": "tool", "content": "sunny", "tool_call_id": call["id"]}
