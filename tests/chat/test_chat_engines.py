"""Every route on every ENGINE x PROMPT_FAMILY combination, each answer checked against OpenAI's published schema.

The emulator behaves as the combination's engine (TGI's generate API and Messages API, or vLLM's DLC with its
served model name); the app runs as ``make dev`` runs it with ``ENGINE`` and ``PROMPT_FAMILY`` set.
"""

from __future__ import annotations

import json

import pytest
from chat_harness import MODEL_ID
from engine_stacks import Stack
from openai_schema import assert_conforms, chunks_of, errors

USER = [{"role": "user", "content": "Can you tell me something about Amazon SageMaker?"}]
ANSWER = "Hello! How can I help?"


def completion_chunk_errors(chunk: dict) -> list[str]:
    """The spec says streamed completions share CreateCompletionResponse's shape, whose ``finish_reason`` is never
    null; a chunk before the end has no finish reason yet (OpenAI's API sends null there). Only that is relaxed."""
    relaxed = json.loads(json.dumps(chunk))
    for choice in relaxed.get("choices", []):
        if choice.get("finish_reason") is None:
            choice["finish_reason"] = "stop"
    return errors("CreateCompletionResponse", relaxed)


def test_health_and_models(stack: Stack) -> None:
    with stack.http() as http:
        assert http.get("/health").json() == {"status": "ok"}
        listing = http.get("/v1/models").json()
        assert_conforms("ListModelsResponse", listing)
        assert [m["id"] for m in listing["data"]] == [MODEL_ID]
        card = http.get(f"/v1/models/{MODEL_ID}")
        assert card.status_code == 200
        assert_conforms("Model", card.json())
        missing = http.get("/v1/models/gpt-4o")
        assert missing.status_code == 404
        assert_conforms("ErrorResponse", missing.json())
        assert missing.json()["error"]["code"] == "model_not_found"
    assert stack.emulator.requests == []


def test_model_ids_with_a_slash_are_found(combo_apps: dict[str, str], session_emulator) -> None:  # type: ignore[no-untyped-def]
    from chat_harness import app_env, start_app

    proc, url = start_app(
        app_env(session_emulator.url, MODEL_ID="meta-llama/Llama-3.1-8B-Instruct"),
        __import__("pathlib").Path(__import__("tempfile").mkdtemp()) / "app.log",
    )
    try:
        import httpx

        card = httpx.get(f"{url}/v1/models/meta-llama/Llama-3.1-8B-Instruct", timeout=10)
        assert (card.status_code, card.json()["id"]) == (200, "meta-llama/Llama-3.1-8B-Instruct")
    finally:
        proc.terminate()
        proc.wait(10)


def test_chat_completion(stack: Stack) -> None:
    with stack.http() as http:
        response = http.post("/v1/chat/completions", json={"model": MODEL_ID, "messages": USER})
    assert response.status_code == 200, response.text
    body = response.json()
    assert_conforms("CreateChatCompletionResponse", body)
    assert body["model"] == MODEL_ID
    assert body["choices"][0]["message"]["content"] == ANSWER
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["completion_tokens"] > 0
    sent = stack.emulator.requests[0]["payload"]
    if stack.engine == "vllm":
        assert sent["model"] == MODEL_ID
        assert "inputs" not in sent
    if stack.server:
        assert sent["messages"] == USER
    elif stack.engine == "vllm":
        assert sent["prompt"].endswith("User: Can you tell me something about Amazon SageMaker?\nFalcon:")


@pytest.mark.parametrize("include_usage", [False, True])
def test_chat_stream(stack: Stack, include_usage: bool) -> None:
    body = {"messages": USER, "stream": True, "max_tokens": 50}
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    with stack.http() as http:
        response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    chunks = chunks_of(response.text)
    for chunk in chunks:
        assert_conforms("CreateChatCompletionStreamResponse", chunk)
        assert chunk["model"] == MODEL_ID
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == ANSWER
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert finishes == ["stop"]
    usage = [c["usage"] for c in chunks if c.get("usage")]
    assert len(usage) == (1 if include_usage else 0)
    if include_usage:
        assert chunks[-1]["choices"] == [] and usage[0]["completion_tokens"] > 0
    else:
        assert all("usage" not in c for c in chunks)
    assert len({c["id"] for c in chunks}) == 1


def test_chat_max_tokens_gives_length(stack: Stack) -> None:
    with stack.openai() as client:
        completion = client.chat.completions.create(model=MODEL_ID, messages=USER, max_tokens=3)
    assert completion.choices[0].finish_reason == "length"
    assert completion.choices[0].message.content == "Hello! How"


def test_completions(stack: Stack) -> None:
    with stack.http() as http:
        response = http.post(
            "/v1/completions", json={"model": MODEL_ID, "prompt": "Once upon a time", "max_tokens": 20}
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert_conforms("CreateCompletionResponse", body)
    assert (body["model"], body["choices"][0]["text"], body["choices"][0]["finish_reason"]) == (
        MODEL_ID,
        ANSWER,
        "stop",
    )
    assert body["usage"]["prompt_tokens"] == 4
    sent = stack.emulator.requests[0]["payload"]
    if stack.engine == "vllm":
        assert (sent["prompt"], sent["max_tokens"], sent["model"]) == ("Once upon a time", 20, MODEL_ID)
    else:
        assert (sent["inputs"], sent["parameters"]["max_new_tokens"]) == ("Once upon a time", 20)


def test_completions_echo_and_stop(stack: Stack) -> None:
    stack.scenario(tokens=[" Sure", ".", "END"], finish_reason="stop_sequence")
    with stack.openai() as client:
        completion = client.completions.create(model=MODEL_ID, prompt="Say", echo=True, stop="END", max_tokens=9)
    assert completion.choices[0].text == "Say Sure."
    assert completion.choices[0].finish_reason == "stop"


@pytest.mark.parametrize("include_usage", [False, True])
def test_completions_stream(stack: Stack, include_usage: bool) -> None:
    body: dict = {"prompt": "Once upon a time", "stream": True}
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    with stack.http() as http:
        response = http.post("/v1/completions", json=body)
    chunks = chunks_of(response.text)
    for chunk in chunks:
        assert not completion_chunk_errors(chunk), completion_chunk_errors(chunk)
    assert "".join(c["choices"][0]["text"] for c in chunks if c["choices"]) == ANSWER
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "stop"
    assert sum(1 for c in chunks if c.get("usage")) == (1 if include_usage else 0)


def test_completions_with_the_openai_client_streamed(stack: Stack) -> None:
    with stack.openai() as client:
        stream = client.completions.create(model=MODEL_ID, prompt="Once", stream=True)
        assert "".join(c.choices[0].text for c in stream if c.choices) == ANSWER


def test_generate(stack: Stack) -> None:
    payload = {"inputs": "User: hi\nFalcon:", "parameters": {"max_new_tokens": 64, "details": True}}
    with stack.http() as http:
        response = http.post("/generate", json=payload)
    assert response.status_code == 200, response.text
    (item,) = response.json()
    assert item["generated_text"] == ANSWER
    assert item["details"]["finish_reason"] == "eos_token"
    assert item["details"]["generated_tokens"] >= 7
    with stack.http() as http:
        plain = http.post("/generate", json={"inputs": "hi"}).json()
    assert plain == [{"generated_text": ANSWER}]


def test_generate_stream(stack: Stack) -> None:
    with stack.http() as http:
        response = http.post("/generate", json={"inputs": "hi", "stream": True, "parameters": {"details": True}})
    data = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]
    events = [json.loads(d) for d in data if d != "[DONE]"]
    assert "".join(e["token"]["text"] for e in events if not e["token"]["special"]) == ANSWER
    assert events[-1]["generated_text"] == ANSWER
    assert events[-1]["details"]["finish_reason"] == "eos_token"
    assert all(set(e) >= {"index", "token", "generated_text", "details"} for e in events)


def test_generate_stream_without_details_reports_none(stack: Stack) -> None:
    with stack.http() as http:
        response = http.post("/generate", json={"inputs": "hi", "stream": True})
    events = [json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data:")]
    assert events[-1]["generated_text"] == ANSWER
    assert events[-1]["details"] is None


@pytest.mark.parametrize("route", ["/v1/chat/completions", "/v1/completions", "/generate"])
@pytest.mark.parametrize("stream", [False, True])
def test_model_validation_error_before_generation_is_400(stack: Stack, route: str, stream: bool) -> None:
    stack.scenario(fault="model422", model_message="prompt too long")
    body = {
        "/v1/chat/completions": {"messages": USER},
        "/v1/completions": {"prompt": "x"},
        "/generate": {"inputs": "x"},
    }
    with stack.http() as http:
        response = http.post(route, json={**body[route], "stream": stream})
    assert response.status_code == 400, response.text
    assert_conforms("ErrorResponse", response.json())
    assert response.json()["error"]["message"] == "prompt too long"


@pytest.mark.parametrize("route", ["/v1/chat/completions", "/v1/completions"])
def test_error_mid_stream_is_an_openai_error_event(stack: Stack, route: str) -> None:
    stack.scenario(error_after=3, error_message="CUDA out of memory")
    body = {"messages": USER} if route == "/v1/chat/completions" else {"prompt": "x"}
    with stack.http() as http:
        response = http.post(route, json={**body, "stream": True})
    assert response.status_code == 200
    chunks = chunks_of(response.text)
    assert_conforms("ErrorResponse", chunks[-1])
    assert "CUDA out of memory" in chunks[-1]["error"]["message"]
    assert chunks[-1]["error"]["type"] == "upstream_error"
    component = "CreateChatCompletionStreamResponse" if route == "/v1/chat/completions" else None
    for chunk in chunks[:-1]:
        if component:
            assert_conforms(component, chunk)
        else:
            assert not completion_chunk_errors(chunk)


def test_error_mid_stream_on_generate_is_a_tgi_error_event(stack: Stack) -> None:
    stack.scenario(error_after=3, error_message="CUDA out of memory")
    with stack.http() as http:
        response = http.post("/generate", json={"inputs": "x", "stream": True})
    last = json.loads([line for line in response.text.splitlines() if line.startswith("data:")][-1][5:])
    assert set(last) == {"error", "error_type"}
    assert "CUDA out of memory" in last["error"]


def test_error_as_first_stream_event_is_an_http_error(stack: Stack) -> None:
    stack.scenario(error_after=0, error_message="Input validation error: bad")
    with stack.http() as http:
        response = http.post("/v1/chat/completions", json={"messages": USER, "stream": True})
    assert response.status_code in (400, 502), response.text
    assert_conforms("ErrorResponse", response.json())


def test_broken_stream_ends_cleanly(stack: Stack) -> None:
    stack.scenario(stream_exception_after=2)
    with stack.http() as http:
        response = http.post("/v1/chat/completions", json={"messages": USER, "stream": True})
    chunks = chunks_of(response.text)
    assert chunks[-1]["error"]["code"] == "stream_error"


@pytest.mark.parametrize("fault", ["throttle", "not_found", "model429"])
def test_runtime_faults_are_openai_errors(stack: Stack, fault: str) -> None:
    stack.scenario(fault=fault)
    with stack.http() as http:
        response = http.post("/v1/chat/completions", json={"messages": USER})
    assert response.status_code in (429, 503)
    assert_conforms("ErrorResponse", response.json())
