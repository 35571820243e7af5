"""Token metering: the EMF records the app writes to stdout, per caller (IAM principal or API key id, from the
request context LWA forwards) and model, for streamed and non-streamed answers on every route."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from chat_harness import MODEL_ID, app_env, start_app
from sagemaker_runtime_emulator import Emulator
from usage_harness import context_header, emf_for, emf_records, wait_for

# A bound for a hung server, not a timing assertion: generous for a loaded 2-core machine.
HTTP_TIMEOUT = 120.0

NAMESPACE = "LlmChat/MeterTest"
PROMPT = "SECRET-PROMPT-77 tell me about SageMaker"
CHAT = {"messages": [{"role": "user", "content": PROMPT}]}
# The emulator's default answer: 7 tokens + the special EOS token; it counts prompt tokens as words.
COMPLETION_TOKENS = 8


def start(emulator: Emulator, tmp: Path, **env: str) -> tuple[str, Path, object]:
    log = tmp / "app.log"
    proc, url = start_app(app_env(emulator.url, METRICS_NAMESPACE=NAMESPACE, **env), log)
    return url, log, proc


@pytest.fixture(scope="module")
def iam_app(session_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    url, log, proc = start(session_emulator, tmp_path_factory.mktemp("iam"), CALLER_IDENTITY="iam")
    yield url, log
    proc.terminate()  # type: ignore[attr-defined]
    proc.wait(10)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def key_app(session_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    url, log, proc = start(session_emulator, tmp_path_factory.mktemp("key"), CALLER_IDENTITY="api_key")
    yield url, log
    proc.terminate()  # type: ignore[attr-defined]
    proc.wait(10)  # type: ignore[attr-defined]


def new_user() -> str:
    return f"arn:aws:iam::123456789012:user/u-{uuid.uuid4().hex[:10]}"


def new_key_id() -> str:
    return uuid.uuid4().hex[:10]


def prompt_tokens(emulator: Emulator) -> int:
    return len(emulator.requests[0]["payload"]["inputs"].split())


def value(record: dict[str, object], name: str) -> float:
    """One data point: Powertools writes each metric's values as an array (EMF allows a number or an array)."""
    raw = record[name]
    if isinstance(raw, list):
        (raw,) = raw
    assert isinstance(raw, int | float)
    return float(raw)


def assert_one_record(log: Path, caller: str, prompt: int, completion: int) -> dict[str, object]:
    (record,) = emf_for(log, caller)
    (directive,) = record["_aws"]["CloudWatchMetrics"]  # type: ignore[index]
    assert directive["Namespace"] == NAMESPACE
    assert directive["Dimensions"] == [["Model", "Caller"]]
    assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == {
        "Requests": "Count",
        "PromptTokens": "Count",
        "CompletionTokens": "Count",
    }
    assert (record["Model"], value(record, "Requests")) == (MODEL_ID, 1)
    assert (value(record, "PromptTokens"), value(record, "CompletionTokens")) == (prompt, completion)
    return record


def test_iam_caller_non_stream_chat(iam_app: tuple[str, Path], emulator: Emulator) -> None:
    url, log = iam_app
    user = new_user()
    response = httpx.post(
        url + "/v1/chat/completions", json=CHAT, headers=context_header(user_arn=user), timeout=HTTP_TIMEOUT
    )
    assert response.status_code == 200
    usage = response.json()["usage"]
    assert_one_record(log, user, usage["prompt_tokens"], usage["completion_tokens"])
    assert usage["prompt_tokens"] == prompt_tokens(emulator)


def test_iam_caller_streamed_chat(iam_app: tuple[str, Path], emulator: Emulator) -> None:
    url, log = iam_app
    user = new_user()
    body = {**CHAT, "stream": True}
    response = httpx.post(
        url + "/v1/chat/completions", json=body, headers=context_header(user_arn=user), timeout=HTTP_TIMEOUT
    )
    assert response.text.endswith("data: [DONE]\n\n")
    assert_one_record(log, user, prompt_tokens(emulator), COMPLETION_TOKENS)


def test_assumed_role_sessions_are_one_caller(iam_app: tuple[str, Path], emulator: Emulator) -> None:
    url, log = iam_app
    role = f"arn:aws:sts::123456789012:assumed-role/Chatters-{uuid.uuid4().hex[:6]}"
    for session in ("alice", "bob"):
        headers = context_header(user_arn=f"{role}/{session}")
        assert (
            httpx.post(url + "/v1/chat/completions", json=CHAT, headers=headers, timeout=HTTP_TIMEOUT).status_code
            == 200
        )
    assert len(emf_for(log, role, count=2)) == 2


def test_with_caller_key_session_each_role_session_is_its_own_caller(emulator: Emulator, tmp_path: Path) -> None:
    url, log, proc = start(emulator, tmp_path, CALLER_IDENTITY="iam", CALLER_KEY="session")
    try:
        role = f"arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Chat_{uuid.uuid4().hex[:6]}"
        for session in ("alice@example.com", "bob@example.com"):
            headers = context_header(user_arn=f"{role}/{session}")
            assert (
                httpx.post(url + "/v1/chat/completions", json=CHAT, headers=headers, timeout=HTTP_TIMEOUT).status_code
                == 200
            )
        assert len(emf_for(log, f"{role}/alice@example.com")) == 1
        assert len(emf_for(log, f"{role}/bob@example.com")) == 1
        assert emf_for(log, role, timeout=0) == []
    finally:
        proc.terminate()  # type: ignore[attr-defined]
        proc.wait(10)  # type: ignore[attr-defined]


def test_api_key_caller_non_stream_generate(key_app: tuple[str, Path], emulator: Emulator) -> None:
    url, log = key_app
    key_id = new_key_id()
    response = httpx.post(
        url + "/generate", json={"inputs": PROMPT}, headers=context_header(api_key_id=key_id), timeout=HTTP_TIMEOUT
    )
    # Counts were asked of TGI for metering only: the caller gets the answer it asked for.
    assert response.json() == [{"generated_text": "Hello! How can I help?"}]
    assert_one_record(log, key_id, len(PROMPT.split()), COMPLETION_TOKENS)


def test_api_key_caller_streamed_generate(key_app: tuple[str, Path], emulator: Emulator) -> None:
    url, log = key_app
    key_id = new_key_id()
    body = {"inputs": PROMPT, "stream": True}
    response = httpx.post(url + "/generate", json=body, headers=context_header(api_key_id=key_id), timeout=HTTP_TIMEOUT)
    events = [json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data:")]
    assert events[-1]["generated_text"] == "Hello! How can I help?"
    assert events[-1]["details"] is None  # not asked for
    assert_one_record(log, key_id, len(PROMPT.split()), COMPLETION_TOKENS)


def test_generate_details_asked_by_the_caller_are_kept(key_app: tuple[str, Path], emulator: Emulator) -> None:
    url, log = key_app
    key_id = new_key_id()
    body = {"inputs": PROMPT, "parameters": {"details": True}}
    (item,) = httpx.post(
        url + "/generate", json=body, headers=context_header(api_key_id=key_id), timeout=HTTP_TIMEOUT
    ).json()
    assert item["details"]["generated_tokens"] == COMPLETION_TOKENS
    assert item["details"]["prefill"] == []  # decoder_input_details was not asked for
    assert_one_record(log, key_id, len(PROMPT.split()), COMPLETION_TOKENS)


def test_api_key_caller_streamed_chat(key_app: tuple[str, Path], emulator: Emulator) -> None:
    url, log = key_app
    key_id = new_key_id()
    body = {**CHAT, "stream": True}
    response = httpx.post(
        url + "/v1/chat/completions", json=body, headers=context_header(api_key_id=key_id), timeout=HTTP_TIMEOUT
    )
    assert response.status_code == 200
    assert_one_record(log, key_id, prompt_tokens(emulator), COMPLETION_TOKENS)


def test_in_api_key_mode_the_iam_identity_is_not_the_caller(key_app: tuple[str, Path], emulator: Emulator) -> None:
    url, log = key_app
    user = new_user()
    httpx.post(url + "/v1/chat/completions", json=CHAT, headers=context_header(user_arn=user), timeout=HTTP_TIMEOUT)
    assert emf_for(log, user, timeout=0.5) == []
    assert emf_for(log, "unknown")


def test_client_disconnect_meters_the_tokens_streamed_so_far(iam_app: tuple[str, Path], emulator: Emulator) -> None:
    url, log = iam_app
    user = new_user()
    emulator.set_scenario(tokens=["word "] * 200, token_delay=0.05)
    body = {**CHAT, "stream": True}
    with httpx.Client(base_url=url, timeout=15) as client:
        with client.stream("POST", "/v1/chat/completions", json=body, headers=context_header(user_arn=user)) as r:
            seen = 0
            for line in r.iter_lines():
                seen += line.startswith("data:")
                if seen == 4:
                    break
    (record,) = wait_for(lambda: emf_for(log, user, timeout=0), 5, "an EMF record after the disconnect")
    assert 2 <= value(record, "CompletionTokens") < 100
    assert value(record, "Requests") == 1


def estimated_prompt(body: dict[str, object]) -> int:
    """The prompt tokens the proxy reserves (and charges when the engine gives no count) for a falcon chat."""
    from chatapi.dialects.prompted import plan_chat
    from chatapi.schemas import ChatCompletionRequest
    from chatapi.settings import load_settings
    from chatapi.usage import Cost

    settings = load_settings({"SAGEMAKER_ENDPOINT_NAME": "x"})
    plan = plan_chat(ChatCompletionRequest.model_validate(body), settings)
    return Cost.of(plan.prompt, plan.payload["parameters"]["max_new_tokens"], settings).prompt_tokens


def test_a_client_that_leaves_after_one_token_pays_for_its_prompt(
    iam_app: tuple[str, Path], emulator: Emulator
) -> None:
    url, log = iam_app
    user = new_user()
    emulator.set_scenario(tokens=["word "] * 200, token_delay=0.05)
    long_prompt = "tell me everything about SageMaker " * 25  # ~900 bytes
    body = {"messages": [{"role": "user", "content": long_prompt}], "stream": True}
    with httpx.Client(base_url=url, timeout=15) as client:
        with client.stream("POST", "/v1/chat/completions", json=body, headers=context_header(user_arn=user)) as r:
            for line in r.iter_lines():
                if '"content":"word' in line:
                    break  # one token, then gone
    (record,) = wait_for(lambda: emf_for(log, user, timeout=0), 5, "an EMF record after the disconnect")
    # The engine never reported its count (the stream was cut): the admission estimate is charged.
    assert value(record, "PromptTokens") == estimated_prompt(body) > 125
    assert 1 <= value(record, "CompletionTokens") < 100


def test_generate_best_of_charges_the_prompt_and_every_candidate(key_app: tuple[str, Path], emulator: Emulator) -> None:
    url, log = key_app
    key = new_key_id()
    body = {"inputs": PROMPT, "parameters": {"best_of": 2, "do_sample": True}}
    response = httpx.post(url + "/generate", json=body, headers=context_header(api_key_id=key), timeout=HTTP_TIMEOUT)
    assert response.status_code == 200, response.text
    assert "details" not in response.json()[0]  # the caller did not ask for them
    # TGI gives no prompt count without decoder_input_details: the admission estimate (bytes + template tokens).
    assert_one_record(log, key, len(PROMPT.encode()) + 24, 2 * COMPLETION_TOKENS)


def test_model_errors_count_the_request_with_no_tokens(iam_app: tuple[str, Path], emulator: Emulator) -> None:
    url, log = iam_app
    user = new_user()
    emulator.set_scenario(fault="model424")
    response = httpx.post(
        url + "/v1/chat/completions", json=CHAT, headers=context_header(user_arn=user), timeout=HTTP_TIMEOUT
    )
    assert response.status_code == 502
    (record,) = emf_for(log, user)
    assert [value(record, m) for m in ("Requests", "PromptTokens", "CompletionTokens")] == [1, 0, 0]


def test_invalid_requests_are_not_metered(iam_app: tuple[str, Path], emulator: Emulator) -> None:
    url, log = iam_app
    user = new_user()
    response = httpx.post(
        url + "/v1/chat/completions", json={"messages": []}, headers=context_header(user_arn=user), timeout=HTTP_TIMEOUT
    )
    assert response.status_code == 400
    assert emf_for(log, user, timeout=0.5) == []


def test_without_caller_identity_a_forged_context_header_is_ignored(
    app_url: str, app_log: Path, emulator: Emulator
) -> None:
    # The session app runs like `make dev`: no CALLER_IDENTITY, so nothing a client sends names the caller.
    user = new_user()
    response = httpx.post(
        app_url + "/v1/chat/completions", json=CHAT, headers=context_header(user_arn=user), timeout=HTTP_TIMEOUT
    )
    assert response.status_code == 200
    assert not [r for r in emf_records(app_log) if r.get("Caller") == user]
    local = emf_for(app_log, "local")
    assert local
    assert local[-1]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "LlmChat"


def test_prompts_never_reach_the_metrics(iam_app: tuple[str, Path], emulator: Emulator) -> None:
    url, log = iam_app
    httpx.post(
        url + "/v1/chat/completions", json=CHAT, headers=context_header(user_arn=new_user()), timeout=HTTP_TIMEOUT
    )
    httpx.post(
        url + "/generate", json={"inputs": PROMPT}, headers=context_header(user_arn=new_user()), timeout=HTTP_TIMEOUT
    )
    assert "SECRET-PROMPT-77" not in log.read_text()
