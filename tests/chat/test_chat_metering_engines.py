"""Token metering on the vLLM engine: server mode (OpenAI chunks from the engine) and a proxy family (completions
converted to TGI events), streamed and not, on every model route. The counts metered are the engine's own."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from chat_harness import MODEL_ID, app_env, start_app
from sagemaker_runtime_emulator import Emulator
from usage_harness import context_header, emf_for

NAMESPACE = "LlmChat/MeterEngines"
CHAT = {"model": MODEL_ID, "messages": [{"role": "user", "content": "tell me about SageMaker"}]}


def _app(emulator: Emulator, tmp: Path, family: str) -> tuple[str, Path, object]:
    log = tmp / "app.log"
    env = app_env(emulator.url, ENGINE="vllm", PROMPT_FAMILY=family, CALLER_IDENTITY="iam", METRICS_NAMESPACE=NAMESPACE)
    proc, url = start_app(env, log)
    return url, log, proc


@pytest.fixture(scope="module", params=["server", "chatml"])
def vllm_app(
    request: pytest.FixtureRequest, session_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path, str]]:
    url, log, proc = _app(session_emulator, tmp_path_factory.mktemp(request.param), request.param)
    yield url, log, request.param
    proc.terminate()  # type: ignore[attr-defined]
    proc.wait(10)  # type: ignore[attr-defined]


@pytest.fixture
def vllm(emulator: Emulator) -> Emulator:
    emulator.set_scenario(engine="vllm", served_model_name=MODEL_ID)
    return emulator


def _caller() -> str:
    return f"arn:aws:iam::123456789012:user/v-{uuid.uuid4().hex[:10]}"


def _counts(record: dict[str, object]) -> tuple[float, float, float]:
    def one(name: str) -> float:
        raw = record[name]
        (number,) = raw if isinstance(raw, list) else [raw]
        return float(number)

    return one("Requests"), one("PromptTokens"), one("CompletionTokens")


def _stream_usage(text: str) -> dict[str, int]:
    chunks = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]
    (usage,) = [c["usage"] for c in chunks if c.get("usage")]
    return dict(usage)


@pytest.mark.parametrize("route", ["/v1/chat/completions", "/v1/completions"])
def test_non_streamed_answers_are_metered_with_the_engines_usage(
    vllm_app: tuple[str, Path, str], vllm: Emulator, route: str
) -> None:
    url, log, _ = vllm_app
    caller = _caller()
    body = CHAT if route.endswith("chat/completions") else {"model": MODEL_ID, "prompt": "tell me about SageMaker"}
    response = httpx.post(url + route, json=body, headers=context_header(user_arn=caller), timeout=15)
    assert response.status_code == 200, response.text
    usage = response.json()["usage"]
    assert usage["completion_tokens"] > 0
    (record,) = emf_for(log, caller)
    assert record["Model"] == MODEL_ID
    assert _counts(record) == (1, usage["prompt_tokens"], usage["completion_tokens"])


@pytest.mark.parametrize("route", ["/v1/chat/completions", "/v1/completions"])
def test_streams_are_metered_with_the_engines_usage_whether_or_not_the_client_asked_for_it(
    vllm_app: tuple[str, Path, str], vllm: Emulator, route: str
) -> None:
    url, log, _ = vllm_app
    chat = route.endswith("chat/completions")
    body = CHAT if chat else {"model": MODEL_ID, "prompt": "tell me about SageMaker"}
    asked, silent = _caller(), _caller()
    with_usage = httpx.post(
        url + route,
        json={**body, "stream": True, "stream_options": {"include_usage": True}},
        headers=context_header(user_arn=asked),
        timeout=15,
    )
    usage = _stream_usage(with_usage.text)
    without = httpx.post(
        url + route, json={**body, "stream": True}, headers=context_header(user_arn=silent), timeout=15
    )
    assert without.text.endswith("data: [DONE]\n\n")
    assert '"usage":{' not in without.text.replace(" ", "")  # not asked for: not sent, yet metered
    for caller in (asked, silent):
        (record,) = emf_for(log, caller)
        assert _counts(record) == (1, usage["prompt_tokens"], usage["completion_tokens"])


def test_generate_on_vllm_is_metered_streamed_and_not(vllm_app: tuple[str, Path, str], vllm: Emulator) -> None:
    url, log, _ = vllm_app
    plain, streamed = _caller(), _caller()
    answer = httpx.post(
        url + "/generate",
        json={"inputs": "tell me about SageMaker", "parameters": {"details": True}},
        headers=context_header(user_arn=plain),
        timeout=15,
    )
    assert answer.status_code == 200, answer.text
    details = answer.json()[0]["details"]
    httpx.post(
        url + "/generate",
        json={"inputs": "tell me about SageMaker", "stream": True},
        headers=context_header(user_arn=streamed),
        timeout=15,
    )
    (record,) = emf_for(log, plain)
    assert _counts(record)[0] == 1 and _counts(record)[2] == details["generated_tokens"]
    (record,) = emf_for(log, streamed)
    assert _counts(record)[0] == 1 and _counts(record)[2] == details["generated_tokens"]
