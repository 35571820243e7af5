"""Guardrails (chatapi.guardrails) end to end: the real app under uvicorn with GUARDRAIL_ID/GUARDRAIL_VERSION set,
botocore's bedrock-runtime client pointed at a local ApplyGuardrail stand-in (AWS_ENDPOINT_URL_BEDROCK_RUNTIME), the
SageMaker runtime emulator behind it, and the real openai client in front."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from chat_harness import MODEL_ID, app_env, start_app
from guardrail_standin import BLOCKED_INPUT, BLOCKED_OUTPUT, GuardrailStandIn
from sagemaker_runtime_emulator import Emulator

GUARDRAIL = "abc123def456"
VERSION = "3"
CLEAN = "clean word "  # 11 characters: 100 of them fill more than one 1,000-character window
SECRET_PROMPT = "tell me about the lighthouse keeper"


@pytest.fixture(scope="module")
def standin() -> Iterator[GuardrailStandIn]:
    server = GuardrailStandIn()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _reset(standin: GuardrailStandIn) -> None:
    standin.reset()


def _start(emulator: Emulator, standin: GuardrailStandIn, log: Path, **env: str) -> Iterator[str]:
    proc, url = start_app(
        app_env(
            emulator.url,
            GUARDRAIL_ID=GUARDRAIL,
            GUARDRAIL_VERSION=VERSION,
            AWS_ENDPOINT_URL_BEDROCK_RUNTIME=standin.url,
            **env,
        ),
        log,
    )
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def guarded_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("guarded") / "app.log"


@pytest.fixture(scope="module")
def guarded_url(session_emulator: Emulator, standin: GuardrailStandIn, guarded_log: Path) -> Iterator[str]:
    yield from _start(session_emulator, standin, guarded_log)


@pytest.fixture(scope="module")
def guarded_vllm_url(
    session_emulator: Emulator, standin: GuardrailStandIn, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    log = tmp_path_factory.mktemp("guarded-vllm") / "app.log"
    yield from _start(session_emulator, standin, log, ENGINE="vllm", PROMPT_FAMILY="server")


@pytest.fixture
def client(guarded_url: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=guarded_url + "/v1", api_key="unused", max_retries=0, timeout=30) as oai:
        yield oai


def _user(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


def _assert_input_blocked(
    error: openai.BadRequestError, param: str, emulator: Emulator, standin: GuardrailStandIn
) -> None:
    """A 400 in OpenAI's shape with the guardrail's blocked-input message, after one INPUT check and no model call."""
    assert error.status_code == 400
    assert error.body == {
        "message": BLOCKED_INPUT,
        "type": "invalid_request_error",
        "param": param,
        "code": "content_filter",
    }
    assert emulator.requests == []
    assert [c["source"] for c in standin.calls] == ["INPUT"]


def test_a_clean_exchange_passes_and_both_sides_are_checked(
    client: openai.OpenAI, emulator: Emulator, standin: GuardrailStandIn
) -> None:
    answer = client.chat.completions.create(model=MODEL_ID, messages=_user("hello there"))
    assert answer.choices[0].message.content == "Hello! How can I help?"
    assert answer.choices[0].finish_reason == "stop"
    assert [(c["source"], c["id"], c["version"]) for c in standin.calls] == [
        ("INPUT", GUARDRAIL, VERSION),
        ("OUTPUT", GUARDRAIL, VERSION),
    ]
    assert standin.calls[0]["texts"] == ["hello there"]
    assert standin.calls[1]["texts"] == ["Hello! How can I help?"]
    assert len(emulator.requests) == 1


@pytest.mark.parametrize("stream", [False, True])
def test_blocked_input_is_a_400_with_the_guardrails_message_and_the_model_is_never_called(
    client: openai.OpenAI, emulator: Emulator, standin: GuardrailStandIn, stream: bool
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL_ID, messages=_user("something forbidden"), stream=stream)
    _assert_input_blocked(caught.value, "messages", emulator, standin)


def test_every_message_of_the_conversation_is_checked(client: openai.OpenAI, emulator: Emulator) -> None:
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "a forbidden earlier answer"},
        {"role": "user", "content": "go on"},
    ]
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=MODEL_ID, messages=messages)  # type: ignore[arg-type]
    assert emulator.requests == []


def test_blocked_output_mid_stream_ends_with_content_filter_and_never_delivers_the_window(
    client: openai.OpenAI, emulator: Emulator, standin: GuardrailStandIn
) -> None:
    emulator.set_scenario(tokens=[CLEAN] * 100 + ["forbidden ", "secret "] + [CLEAN] * 5)
    stream = client.chat.completions.create(model=MODEL_ID, messages=_user("story please"), stream=True)
    text, reasons = "", []
    for chunk in stream:
        for choice in chunk.choices:
            text += choice.delta.content or ""
            reasons.append(choice.finish_reason)
    assert reasons[-1] == "content_filter"
    assert "forbidden" not in text and "secret" not in text
    # The first window (90 tokens: 990 characters, the 91st would pass 1,000) was checked clean and delivered.
    assert text == CLEAN * 90 + BLOCKED_OUTPUT
    outputs = [c for c in standin.calls if c["source"] == "OUTPUT"]
    assert [len(c["texts"][0]) for c in outputs] == [990, 15 * len(CLEAN) + len("forbidden secret ")]
    assert all(len(c["texts"][0]) <= 1000 for c in outputs)


def test_the_role_chunk_comes_at_once_and_text_only_after_its_window_is_checked(
    client: openai.OpenAI, emulator: Emulator, standin: GuardrailStandIn
) -> None:
    emulator.set_scenario(tokens=[CLEAN] * 10, hold_after=3)
    stream = iter(client.chat.completions.create(model=MODEL_ID, messages=_user("story please"), stream=True))
    first = next(stream)
    assert first.choices[0].delta.role == "assistant" and not first.choices[0].delta.content
    # The model has streamed 3 tokens and holds: none of them has been checked, so none has been sent.
    assert emulator.wait_for(lambda streams: bool(streams) and streams[0].held)
    assert [c["source"] for c in standin.calls] == ["INPUT"]
    emulator.release()
    rest = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in rest if c.choices) == CLEAN * 10
    assert [c["source"] for c in standin.calls] == ["INPUT", "OUTPUT"]


def test_a_clean_long_stream_is_delivered_whole(client: openai.OpenAI, emulator: Emulator) -> None:
    emulator.set_scenario(tokens=[CLEAN] * 200)
    stream = client.chat.completions.create(
        model=MODEL_ID, messages=_user("story please"), stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == CLEAN * 200
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None


def test_blocked_output_without_stream_answers_the_guardrails_text(client: openai.OpenAI, emulator: Emulator) -> None:
    emulator.set_scenario(tokens=["a ", "forbidden ", "answer"])
    completion = client.completions.create(model=MODEL_ID, prompt="write")
    assert completion.choices[0].text == BLOCKED_OUTPUT
    assert completion.choices[0].finish_reason == "content_filter"


def test_generate_stream_blocked_ends_with_a_tgi_error_event(guarded_url: str, emulator: Emulator) -> None:
    emulator.set_scenario(tokens=["a ", "forbidden ", "answer"])
    body = {"inputs": "write", "parameters": {"max_new_tokens": 20}, "stream": True}
    with httpx.stream("POST", guarded_url + "/generate", json=body, timeout=30) as response:
        raw = b"".join(response.iter_bytes()).decode()
    assert response.status_code == 200
    events = [json.loads(line[5:]) for line in raw.splitlines() if line.startswith("data:")]
    assert events == [{"error": BLOCKED_OUTPUT, "error_type": "content_filter"}]
    assert "forbidden" not in raw


def test_generate_input_blocked(guarded_url: str, emulator: Emulator) -> None:
    response = httpx.post(guarded_url + "/generate", json={"inputs": "forbidden"}, timeout=30)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "content_filter"
    assert response.json()["error"]["param"] == "inputs"
    assert emulator.requests == []


def test_responses_api_is_guarded_through_the_chat_route(client: openai.OpenAI, emulator: Emulator) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model=MODEL_ID, input="forbidden question")
    assert caught.value.body["code"] == "content_filter"  # type: ignore[index]
    assert emulator.requests == []
    emulator.set_scenario(tokens=["a ", "forbidden ", "answer"])
    response = client.responses.create(model=MODEL_ID, input="question")
    assert response.status == "incomplete"
    assert response.incomplete_details is not None and response.incomplete_details.reason == "content_filter"


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ("ThrottlingException", 503, "guardrail_unavailable"),
        ("ServiceUnavailableException", 503, "guardrail_unavailable"),
        ("InternalServerException", 503, "guardrail_unavailable"),
        ("AccessDeniedException", 502, "guardrail_error"),
        ("ResourceNotFoundException", 502, "guardrail_error"),
    ],
)
def test_service_errors_fail_closed_before_the_model_is_called(
    guarded_url: str, emulator: Emulator, standin: GuardrailStandIn, fault: str, status: int, code: str
) -> None:
    standin.reset(fault=fault)
    response = httpx.post(
        guarded_url + "/v1/chat/completions", json={"messages": _user("hello"), "stream": True}, timeout=30
    )
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and fault in error["message"]
    assert "hello" not in response.text
    if status == 503:
        assert response.headers["retry-after"] == "2"
    assert emulator.requests == []


def test_a_service_error_mid_stream_ends_the_stream_with_an_error_and_no_unchecked_text(
    guarded_url: str, emulator: Emulator, standin: GuardrailStandIn
) -> None:
    standin.reset(fault="ServiceUnavailableException", fault_sources=("OUTPUT",))
    emulator.set_scenario(tokens=["unchecked ", "words"])
    body = {"messages": _user("hello"), "stream": True}
    with httpx.stream("POST", guarded_url + "/v1/chat/completions", json=body, timeout=30) as response:
        raw = b"".join(response.iter_bytes()).decode()
    assert response.status_code == 200
    payloads = [line[6:] for line in raw.splitlines() if line.startswith("data: ")]
    assert payloads[-1] == "[DONE]"
    assert json.loads(payloads[-2])["error"]["code"] == "guardrail_unavailable"
    assert "unchecked" not in raw


def test_responses_stream_blocked_ends_incomplete(client: openai.OpenAI, emulator: Emulator) -> None:
    emulator.set_scenario(tokens=["a ", "forbidden ", "answer"])
    events = list(client.responses.create(model=MODEL_ID, input="question", stream=True))
    final = events[-1]
    assert final.type == "response.incomplete"
    assert final.response.incomplete_details is not None
    assert final.response.incomplete_details.reason == "content_filter"
    assert "forbidden" not in json.dumps([e.model_dump() for e in events])


def test_vllm_server_mode_stream_and_token_prompts(
    guarded_vllm_url: str, emulator: Emulator, standin: GuardrailStandIn
) -> None:
    emulator.set_scenario(engine="vllm", tokens=["a ", "forbidden ", "answer"])
    with openai.OpenAI(base_url=guarded_vllm_url + "/v1", api_key="unused", max_retries=0, timeout=30) as oai:
        chunks = list(oai.chat.completions.create(model=MODEL_ID, messages=_user("hi"), stream=True))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert "forbidden" not in text
        assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "content_filter"
        with pytest.raises(openai.BadRequestError) as caught:
            oai.completions.create(model=MODEL_ID, prompt=[1, 2, 3])
        assert caught.value.body["param"] == "prompt"  # type: ignore[index]


def test_guardrail_usage_is_metered_and_prompts_are_not_logged(
    client: openai.OpenAI, guarded_log: Path, emulator: Emulator
) -> None:
    client.chat.completions.create(model=MODEL_ID, messages=_user(SECRET_PROMPT))
    records = [
        json.loads(line)
        for line in guarded_log.read_text().splitlines()
        if line.startswith("{") and "GuardrailTextUnits" in line
    ]
    assert records, "no guardrail EMF record"
    last = records[-1]
    # Powertools writes each metric's values as a list.
    assert last["GuardrailTextUnits"] == [2.0]  # one unit for the prompt, one for the answer
    assert last["GuardrailInterventions"] == [0.0]
    assert last["Model"] and last["Caller"]
    assert SECRET_PROMPT not in guarded_log.read_text()


def test_generate_without_stream_blocked_answers_the_guardrails_text(guarded_url: str, emulator: Emulator) -> None:
    emulator.set_scenario(tokens=["a ", "forbidden ", "answer"])
    body = {"inputs": "write", "parameters": {"max_new_tokens": 20, "details": True}}
    response = httpx.post(guarded_url + "/generate", json=body, timeout=30)
    assert response.status_code == 200
    (item,) = response.json()
    assert item["generated_text"] == BLOCKED_OUTPUT
    assert item["details"]["finish_reason"] == "content_filter"
    assert "forbidden" not in response.text


def _guardrail_records(log: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for line in log.read_text().splitlines()
        if line.startswith("{") and "GuardrailTextUnits" in line
    ]


@pytest.mark.parametrize("stream", [False, True])
def test_the_prompts_check_is_metered_when_the_model_then_fails(
    client: openai.OpenAI, guarded_log: Path, emulator: Emulator, standin: GuardrailStandIn, stream: bool
) -> None:
    emulator.set_scenario(fault="unavailable")
    before = len(_guardrail_records(guarded_log))
    with pytest.raises(openai.APIStatusError):
        client.chat.completions.create(model=MODEL_ID, messages=_user("hello"), stream=stream)
    assert [c["source"] for c in standin.calls] == ["INPUT"]
    records = _guardrail_records(guarded_log)
    assert len(records) == before + 1
    assert records[-1]["GuardrailTextUnits"] == [1.0]


# /v1/embeddings under a guardrail: several models on one endpoint (MODEL_ROUTES) with an embedding component.
EMBED_ROUTES = {
    "qwen": {"component": "qwen-ic", "kind": "chat", "engine": "vllm"},
    "bge": {"component": "bge-ic", "kind": "embedding", "engine": "vllm"},
}
EMBED_COMPONENTS = {"qwen-ic": {"engine": "vllm", "tokens": ["qwen"]}, "bge-ic": {"engine": "vllm", "pooling": True}}


@pytest.fixture(scope="module")
def guarded_models_url(
    session_emulator: Emulator, standin: GuardrailStandIn, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    log = tmp_path_factory.mktemp("guarded-models") / "app.log"
    yield from _start(session_emulator, standin, log, MODEL_ROUTES=json.dumps(EMBED_ROUTES))


@pytest.fixture
def embed_client(guarded_models_url: str, emulator: Emulator) -> Iterator[openai.OpenAI]:
    emulator.set_scenario(components=EMBED_COMPONENTS)
    with openai.OpenAI(base_url=guarded_models_url + "/v1", api_key="unused", max_retries=0, timeout=30) as oai:
        yield oai


def test_embeddings_inputs_are_checked_and_vectors_are_not(
    embed_client: openai.OpenAI, emulator: Emulator, standin: GuardrailStandIn
) -> None:
    answer = embed_client.embeddings.create(model="bge", input=["red apple", "green pear"], encoding_format="float")
    assert len(answer.data) == 2 and all(e.embedding for e in answer.data)
    # One INPUT check of every text; the answer is vectors, so there is no OUTPUT check.
    assert [(c["source"], c["texts"]) for c in standin.calls] == [("INPUT", ["red apple", "green pear"])]
    assert len(emulator.requests) == 1


def test_a_blocked_embeddings_input_is_a_400_and_the_model_is_never_called(
    embed_client: openai.OpenAI, emulator: Emulator, standin: GuardrailStandIn
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        embed_client.embeddings.create(model="bge", input=["fine", "something forbidden"], encoding_format="float")
    _assert_input_blocked(caught.value, "input", emulator, standin)


def test_token_id_embeddings_inputs_are_refused_when_a_guardrail_must_read_text(
    embed_client: openai.OpenAI, emulator: Emulator, standin: GuardrailStandIn
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        embed_client.embeddings.create(model="bge", input=[[1, 2, 3]], encoding_format="float")
    body: Any = caught.value.body
    assert (body["param"], body["code"]) == ("input", "unsupported_parameter")
    assert "token ids" in body["message"]
    assert emulator.requests == [] and standin.calls == []
