"""Wake at once, hold the request (chatapi/wake.py): a real uvicorn app (as `make dev` runs it) in front of the
SageMaker runtime emulator, whose no-capacity window ends when the test sets an event, and which also stands in for
the SageMaker control plane (AWS_ENDPOINT_URL_SAGEMAKER) that takes the scaling call."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from chat_harness import MODEL_ID, REPO, app_env, start_app
from chatapi import wake
from chatapi.backend import SageMakerBackend
from chatapi.settings import WAKE_WAIT_DEFAULT_SECONDS, WAKE_WAIT_MAX_SECONDS, SettingsError, load_settings
from sagemaker_runtime_emulator import Emulator
from test_chat_active_hours import closed_hours

from constructs.api import time_limits
from llmchat.waking import WakingTransport

COMPONENT = "LlmChat-Llm-Component-7A2EEE1A"
CHAT = {"model": MODEL_ID, "messages": [{"role": "user", "content": "hi"}]}
ANSWER = "Hello! How can I help?"
# A bound for a hung test, not a wait for something to happen: every wait below ends on an event.
BOUND = 60


def wake_env(emulator_url: str, **env: str) -> dict[str, str]:
    """The app's environment for a scaled-to-zero component whose control plane is the emulator too."""
    return app_env(
        emulator_url,
        INFERENCE_COMPONENT_NAME=COMPONENT,
        AWS_ENDPOINT_URL_SAGEMAKER=emulator_url,
        WAKE_POLL_SECONDS="0.2",
        **env,
    )


def _start(emulator: Emulator, tmp: pytest.TempPathFactory, name: str, **env: str) -> Iterator[str]:
    log: Path = tmp.mktemp(name) / "app.log"
    proc, url = start_app(wake_env(emulator.url, **env), log)
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def waking_url(session_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _start(session_emulator, tmp_path_factory, "waking", WAKE_WAIT_SECONDS="120")


@pytest.fixture(scope="module")
def short_url(session_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _start(session_emulator, tmp_path_factory, "short", WAKE_WAIT_SECONDS="1")


@pytest.fixture
def asleep(emulator: Emulator) -> threading.Event:
    """The component has no copy until the test sets the returned event."""
    until = threading.Event()
    emulator.set_scenario(no_capacity_until=until)
    return until


def _held_stream(url: str, body: dict[str, Any], seen_keepalive: threading.Event) -> list[str]:
    """Every line of a streamed answer; sets ``seen_keepalive`` at the first waking comment."""
    lines: list[str] = []
    with httpx.stream("POST", url + "/v1/chat/completions", json=body, timeout=BOUND) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if not line:
                continue
            lines.append(line)
            if line.startswith(": waking the model ("):
                seen_keepalive.set()
    return lines


def _content(lines: list[str]) -> str:
    chunks = [json.loads(line[6:]) for line in lines if line.startswith("data: {")]
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))


def test_a_streamed_request_is_answered_after_the_wake_not_failed(
    waking_url: str, emulator: Emulator, asleep: threading.Event
) -> None:
    with ThreadPoolExecutor(1) as pool:
        seen = threading.Event()
        held = pool.submit(_held_stream, waking_url, {**CHAT, "stream": True}, seen)
        assert emulator.scaled.wait(BOUND) and seen.wait(BOUND)
        asleep.set()
        lines = held.result(BOUND)
    assert emulator.scaling_calls == [{"InferenceComponentName": COMPONENT, "DesiredRuntimeConfig": {"CopyCount": 1}}]
    waking = [line for line in lines if line.startswith(":")]
    assert waking and all(line.startswith(": waking the model (") and line.endswith(" s)") for line in waking)
    # Keep-alives first, then the whole answer.
    assert lines.index(waking[-1]) < min(i for i, line in enumerate(lines) if line.startswith("data:"))
    assert _content(lines) == ANSWER and lines[-1] == "data: [DONE]"


def test_concurrent_requests_share_one_wake_up(waking_url: str, emulator: Emulator, asleep: threading.Event) -> None:
    seen = [threading.Event() for _ in range(5)]
    with ThreadPoolExecutor(len(seen)) as pool:
        held = [pool.submit(_held_stream, waking_url, {**CHAT, "stream": True}, s) for s in seen]
        assert all(s.wait(BOUND) for s in seen)
        asleep.set()
        answers = [_content(h.result(BOUND)) for h in held]
    assert answers == [ANSWER] * len(seen)
    assert len(emulator.scaling_calls) == 1


def test_the_openai_client_ignores_the_keepalives(waking_url: str, emulator: Emulator, asleep: threading.Event) -> None:
    def ask() -> str:
        with openai.OpenAI(base_url=waking_url + "/v1", api_key="unused", max_retries=0, timeout=BOUND) as client:
            stream = client.chat.completions.create(model=MODEL_ID, messages=CHAT["messages"], stream=True)
            return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(ask)
        assert emulator.scaled.wait(BOUND)
        asleep.set()
        assert answer.result(BOUND) == ANSWER


def test_the_node_openai_client_ignores_the_keepalives(
    waking_url: str, emulator: Emulator, asleep: threading.Event, tmp_path: Path
) -> None:
    node = shutil.which("node")
    assert node is not None, "Node.js is required (make synth needs it too)"
    # ESM resolves packages from the script's folder: a copy beside the project's node_modules (test_responses_node).
    modules = Path(os.environ.get("NODE_MODULES_DIR", REPO / "node_modules"))
    assert (modules / "openai").is_dir(), f"the openai package (package.json) is not installed in {modules}"
    (tmp_path / "node_modules").symlink_to(modules.resolve(), target_is_directory=True)
    script = tmp_path / "wake_client.mjs"
    shutil.copy(Path(__file__).with_name("node") / script.name, script)
    with subprocess.Popen([node, str(script), waking_url + "/v1", MODEL_ID], stdout=subprocess.PIPE, text=True) as proc:
        assert emulator.scaled.wait(BOUND)
        asleep.set()
        out, _ = proc.communicate(timeout=BOUND)
    assert proc.returncode == 0
    assert json.loads(out.strip().splitlines()[-1]) == {"text": ANSWER}


def test_make_chat_shows_the_wake_up_notes(waking_url: str, emulator: Emulator, asleep: threading.Event) -> None:
    shown = io.StringIO()
    http = httpx.Client(transport=WakingTransport(out=shown), timeout=BOUND)
    with openai.OpenAI(base_url=waking_url + "/v1", api_key="unused", max_retries=0, http_client=http) as client:
        stream = client.chat.completions.create(model=MODEL_ID, messages=CHAT["messages"], stream=True)
        assert emulator.scaled.wait(BOUND)
        asleep.set()
        answer = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert answer == ANSWER
    assert shown.getvalue().startswith("\rllm> (waking the model (")
    assert shown.getvalue().endswith("\r\x1b[2Kllm> ")  # the note's line is cleared when the answer begins


def test_a_responses_stream_gets_the_keepalives_too(
    waking_url: str, emulator: Emulator, asleep: threading.Event
) -> None:
    lines: list[str] = []
    body = {"model": MODEL_ID, "input": "hi", "stream": True}
    with httpx.stream("POST", waking_url + "/v1/responses", json=body, timeout=BOUND) as response:
        for line in response.iter_lines():
            lines.append(line)
            if line.startswith(": waking the model ("):
                assert emulator.scaled.wait(BOUND)
                asleep.set()
    assert any(line.startswith(": waking the model (") for line in lines)
    deltas = [json.loads(line[6:]) for line in lines if line.startswith("data: {")]
    text = "".join(d["delta"] for d in deltas if d.get("type") == "response.output_text.delta")
    assert text == ANSWER


def test_a_non_streamed_request_waits_within_the_limit(
    waking_url: str, emulator: Emulator, asleep: threading.Event
) -> None:
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(httpx.post, waking_url + "/v1/chat/completions", json=CHAT, timeout=BOUND)
        assert emulator.scaled.wait(BOUND)
        asleep.set()
        response = answer.result(BOUND)
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == ANSWER
    assert len(emulator.scaling_calls) == 1


def test_an_invoke_endpoint_call_waits_too(waking_url: str, emulator: Emulator, asleep: threading.Event) -> None:
    # TGI takes best_of > 1 only without a stream: InvokeEndpoint (backend.invoke), held like the streams.
    body = {"inputs": "hi", "parameters": {"best_of": 2, "do_sample": True}}
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(httpx.post, waking_url + "/generate", json=body, timeout=BOUND)
        assert emulator.scaled.wait(BOUND)
        asleep.set()
        response = answer.result(BOUND)
    assert response.status_code == 200 and "generated_text" in response.json()[0]
    assert [r["stream"] for r in emulator.requests if r["stream"]] == []  # never a stream: InvokeEndpoint only
    assert len(emulator.scaling_calls) == 1


def test_a_copy_already_on_its_way_is_not_asked_for_again(
    waking_url: str, emulator: Emulator, asleep: threading.Event
) -> None:
    emulator.desired_copies = 1  # another Lambda environment's wake, or the alarm's
    with ThreadPoolExecutor(1) as pool:
        seen = threading.Event()
        held = pool.submit(_held_stream, waking_url, {**CHAT, "stream": True}, seen)
        assert seen.wait(BOUND)
        asleep.set()
        assert _content(held.result(BOUND)) == ANSWER
    assert emulator.scaling_calls == []


def test_past_the_wait_a_non_streamed_request_gets_503_with_retry_after(
    short_url: str, emulator: Emulator, asleep: threading.Event
) -> None:
    response = httpx.post(short_url + "/v1/chat/completions", json=CHAT, timeout=BOUND)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "60"
    assert response.json()["error"]["code"] == "model_starting"
    assert len(emulator.scaling_calls) == 1  # the wake-up was still asked for: the next try may find a copy


def test_past_the_wait_a_held_stream_ends_with_the_error_event(
    short_url: str, emulator: Emulator, asleep: threading.Event
) -> None:
    lines = _held_stream(short_url, {**CHAT, "stream": True}, threading.Event())
    assert lines[0].startswith(": waking the model (")
    errors = [json.loads(line[6:]) for line in lines if line.startswith("data: {")]
    # The role chunk a chat stream always opens with, then the error: no text.
    assert [e["error"]["code"] for e in errors if "error" in e] == ["model_starting"]
    assert _content(lines) == ""
    assert lines[-1] == "data: [DONE]"
    with openai.OpenAI(base_url=short_url + "/v1", api_key="unused", max_retries=0, timeout=BOUND) as client:
        stream = client.chat.completions.create(model=MODEL_ID, messages=CHAT["messages"], stream=True)
        with pytest.raises(openai.APIError, match="scaled to zero and is starting"):
            list(stream)


def test_outside_the_active_hours_nothing_wakes(
    session_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory, asleep: threading.Event
) -> None:
    hours, start = closed_hours(datetime.now(UTC))
    apps = _start(session_emulator, tmp_path_factory, "closed", WAKE_WAIT_SECONDS="120", ACTIVE_HOURS=hours)
    url = next(apps)
    try:
        response = httpx.post(url + "/v1/chat/completions", json={**CHAT, "stream": True}, timeout=BOUND)
    finally:
        next(apps, None)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "outside_active_hours"
    assert f"next start at {start.isoformat()}" in response.json()["error"]["message"]
    assert session_emulator.scaling_calls == [] and len(session_emulator.requests) == 1


def test_a_served_model_makes_no_scaling_call(waking_url: str, emulator: Emulator) -> None:
    assert httpx.post(waking_url + "/v1/chat/completions", json=CHAT, timeout=BOUND).status_code == 200
    assert emulator.scaling_calls == []


def test_a_stand_in_without_capacity_for_the_first_seconds_sees_the_stream_answered(
    waking_url: str, emulator: Emulator
) -> None:
    # The contract, with the window in seconds as an outside check sets it over HTTP (no event to wait on).
    assert httpx.post(emulator.url + "/_emulator/scenario", json={"no_capacity_seconds": 1}, timeout=BOUND).is_success
    lines = _held_stream(waking_url, {**CHAT, "stream": True}, threading.Event())
    assert lines[0].startswith(": waking the model (") and _content(lines) == ANSWER
    assert len(emulator.scaling_calls) == 1


@pytest.mark.parametrize(("value", "match"), [("-1", "too small"), ("361", "too large"), ("soon", "not an integer")])
def test_a_bad_wake_wait_names_the_variable(value: str, match: str) -> None:
    with pytest.raises(SettingsError, match=f"WAKE_WAIT_SECONDS.*{match}"):
        load_settings({"SAGEMAKER_ENDPOINT_NAME": "e", "WAKE_WAIT_SECONDS": value})


def test_the_proxy_limits_agree_with_the_stacks() -> None:
    assert WAKE_WAIT_DEFAULT_SECONDS == time_limits.WAKE_WAIT_DEFAULT_SECONDS
    assert WAKE_WAIT_MAX_SECONDS == time_limits.WAKE_WAIT_MAX_SECONDS
    assert wake.APIGATEWAY_IDLE_SECONDS == time_limits.APIGATEWAY_REGIONAL_IDLE_SECONDS
    assert wake.SAGEMAKER_INVOKE_SECONDS == time_limits.SAGEMAKER_INVOKE_SECONDS
    assert wake.NONSTREAM_WAIT_MAX_SECONDS == time_limits.WAKE_NONSTREAM_MAX_SECONDS
    assert load_settings({"SAGEMAKER_ENDPOINT_NAME": "e"}).wake_wait_seconds == WAKE_WAIT_DEFAULT_SECONDS


def test_a_client_leaving_a_held_stream_ends_the_hold(
    session_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory, asleep: threading.Event
) -> None:
    log = tmp_path_factory.mktemp("leaving") / "app.log"
    proc, url = start_app(wake_env(session_emulator.url, WAKE_WAIT_SECONDS="120"), log)
    try:
        with httpx.stream(
            "POST", url + "/v1/chat/completions", json={**CHAT, "stream": True}, headers={"x-request-id": "wake-drop"}
        ) as response:
            first = next(line for line in response.iter_lines() if line)
        assert first.startswith(": waking the model (")

        def finished() -> list[dict[str, Any]]:
            records = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
            return [r for r in records if r.get("request_id") == "wake-drop" and r["message"] == "stream finished"]

        deadline = time.monotonic() + BOUND  # a bound for a hung app; the line comes as soon as the hold ends
        while not finished() and time.monotonic() < deadline:
            time.sleep(0.05)
        (record,) = finished()
        assert record["error_code"] == "client_disconnected"
        records = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
        assert [r for r in records if r.get("level") == "ERROR" or "exception" in r] == []
    finally:
        proc.terminate()
        proc.wait(10)


# Several models (MODEL_ROUTES) under scale to zero: each model component is woken by a call routed to it, and a
# call to an adapter wakes its base (an adapter has no copies of its own).
ROUTES = {
    "qwen": {"component": COMPONENT, "kind": "chat", "engine": "vllm"},
    "llama": {"component": "LlmChat-Llama-Component-1B2C3D4E", "kind": "chat", "engine": "vllm"},
    "support-bot": {"component": "LlmChat-Adapter-9F8E7D6C", "kind": "chat", "engine": "vllm", "base": "llama"},
}


@pytest.fixture(scope="module")
def models_url(session_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _start(
        session_emulator, tmp_path_factory, "models", WAKE_WAIT_SECONDS="120", MODEL_ROUTES=json.dumps(ROUTES)
    )


@pytest.mark.parametrize(
    ("model", "woken"),
    [("qwen", COMPONENT), ("llama", ROUTES["llama"]["component"]), ("support-bot", ROUTES["llama"]["component"])],
)
def test_each_routed_model_wakes_its_own_component(
    models_url: str, emulator: Emulator, asleep: threading.Event, model: str, woken: str
) -> None:
    with ThreadPoolExecutor(1) as pool:
        seen = threading.Event()
        held = pool.submit(_held_stream, models_url, {**CHAT, "model": model, "stream": True}, seen)
        assert emulator.scaled.wait(BOUND) and seen.wait(BOUND)
        asleep.set()
        lines = held.result(BOUND)
    assert emulator.scaling_calls == [{"InferenceComponentName": woken, "DesiredRuntimeConfig": {"CopyCount": 1}}]
    assert _content(lines) == ANSWER and lines[-1] == "data: [DONE]"
    # The answer came from the routed component itself (the adapter's own, not its base's).
    assert emulator.requests[-1]["inference_component"] == ROUTES[model]["component"]


def test_each_model_component_has_its_own_waker() -> None:
    waker = wake.Waker(object(), COMPONENT, wait_seconds=10, poll_seconds=0.5)
    other = waker.for_component("LlmChat-Other-Component")
    assert (other.component, other.wait_seconds, other.poll_seconds) == ("LlmChat-Other-Component", 10, 0.5)
    assert other.served is not waker.served  # its own wake-up: one scaling call per component
    backend = SageMakerBackend(object(), "e", inference_component=COMPONENT, waker=waker)
    assert backend.for_component("LlmChat-Other-Component", other).waker is other
    assert backend.for_component("LlmChat-Never-Woken", None).waker is None
