"""The chat API in front of an inference component: the name on every call, "no capacity" as 503 + Retry-After."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from chat_harness import MODEL_ID, app_env, start_app
from chatapi.settings import SettingsError, load_settings
from sagemaker_runtime_emulator import Emulator

COMPONENT = "LlmChat-Llm-Component-7A2EEE1A"
CHAT = {"messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def component_url(session_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log: Path = tmp_path_factory.mktemp("component") / "app.log"
    # WAKE_WAIT_SECONDS=0: no wake-up, today's 503 (the wake path: test_chat_wake.py).
    env = app_env(session_emulator.url, INFERENCE_COMPONENT_NAME=COMPONENT, WAKE_WAIT_SECONDS="0")
    proc, url = start_app(env, log)
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def client(component_url: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=component_url + "/v1", api_key="unused", max_retries=0, timeout=15) as c:
        yield c


def test_every_call_names_the_inference_component(
    client: openai.OpenAI, component_url: str, emulator: Emulator
) -> None:
    answer = client.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "Hello! How can I help?"
    streamed = client.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": "hi"}], stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == "Hello! How can I help?"
    assert httpx.post(component_url + "/generate", json={"inputs": "hi"}, timeout=15).status_code == 200
    calls = [(r["stream"], r["inference_component"]) for r in emulator.requests]
    # Every generation is streamed (a non-streamed answer is assembled from the stream): all three name the component.
    assert calls == [(True, COMPONENT), (True, COMPONENT), (True, COMPONENT)]


def test_without_the_variable_no_component_is_named(http: httpx.Client, emulator: Emulator) -> None:
    assert http.post("/v1/chat/completions", json=CHAT).status_code == 200
    assert [r["inference_component"] for r in emulator.requests] == [None]


@pytest.mark.parametrize("stream", [False, True])
def test_no_capacity_is_503_model_starting_with_retry_after(
    client: openai.OpenAI, emulator: Emulator, stream: bool
) -> None:
    emulator.set_scenario(fault="no_capacity")
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": "hi"}], stream=stream)
    response = caught.value.response
    assert response.status_code == 503
    assert response.headers["retry-after"] == "60"
    # Nothing was streamed before the error: a plain JSON error, not an event stream.
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert (error["type"], error["code"], error["param"]) == ("service_unavailable", "model_starting", None)
    assert "scaled to zero and is starting" in error["message"] and "10 minutes" in error["message"]
    # Not retried by the proxy: the wake-up takes minutes, the caller decides when to come back.
    assert len(emulator.requests) == 1
    assert emulator.requests[0]["inference_component"] == COMPONENT


@pytest.mark.parametrize("stream", [False, True])
def test_no_capacity_on_generate_is_503_too(component_url: str, emulator: Emulator, stream: bool) -> None:
    emulator.set_scenario(fault="no_capacity")
    response = httpx.post(component_url + "/generate", json={"inputs": "hi", "stream": stream}, timeout=15)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "60"
    assert response.json()["error"]["code"] == "model_starting"


def test_the_model_answers_once_a_copy_is_up(client: openai.OpenAI, emulator: Emulator) -> None:
    emulator.set_scenario(fault="no_capacity", fault_times=1)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": "hi"}])
    answer = client.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "Hello! How can I help?"


@pytest.mark.parametrize("name", ["-starts-with-hyphen", "has_underscore", "x" * 64])
def test_a_bad_component_name_fails_at_start_up(name: str) -> None:
    with pytest.raises(SettingsError, match="INFERENCE_COMPONENT_NAME"):
        load_settings({"SAGEMAKER_ENDPOINT_NAME": "e", "INFERENCE_COMPONENT_NAME": name})


def test_the_component_name_is_read_from_the_environment() -> None:
    settings = load_settings({"SAGEMAKER_ENDPOINT_NAME": "e", "INFERENCE_COMPONENT_NAME": COMPONENT})
    assert settings.inference_component_name == COMPONENT
    assert load_settings({"SAGEMAKER_ENDPOINT_NAME": "e"}).inference_component_name is None
