"""The running app, driven by the real openai client and raw HTTP, against the emulated SageMaker runtime."""

from __future__ import annotations

import json

import httpx
import openai
from chat_harness import MODEL_ID
from sagemaker_runtime_emulator import Emulator
from test_chat_request_ids import records_for

USER = [{"role": "user", "content": "Can you tell me something about Amazon SageMaker?"}]


def sse_data(text: str) -> list[str]:
    return [line[len("data:") :].strip() for line in text.splitlines() if line.startswith("data:")]


def test_health_answers_without_calling_the_endpoint(http: httpx.Client, emulator: Emulator) -> None:
    response = http.get("/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert emulator.requests == []


def test_models_lists_the_deployed_model(oai: openai.OpenAI) -> None:
    assert [m.id for m in oai.models.list().data] == [MODEL_ID]


def test_chat_completion_returns_openai_shape(oai: openai.OpenAI, emulator: Emulator) -> None:
    completion = oai.chat.completions.create(model=MODEL_ID, messages=USER)
    assert completion.model == MODEL_ID
    assert completion.choices[0].message.content == "Hello! How can I help?"
    assert completion.choices[0].finish_reason == "stop"


def test_chat_completion_reports_usage_from_tgi_details(oai: openai.OpenAI, emulator: Emulator) -> None:
    completion = oai.chat.completions.create(model=MODEL_ID, messages=USER)
    prompt_words = len(emulator.requests[0]["payload"]["inputs"].split())
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (prompt_words, 8)
    assert completion.usage.total_tokens == prompt_words + 8


def test_chat_completion_omits_usage_when_backend_gives_no_prompt_count(oai: openai.OpenAI, emulator: Emulator) -> None:
    emulator.set_scenario(prompt_tokens=False)
    assert oai.chat.completions.create(model=MODEL_ID, messages=USER).usage is None


def test_multi_turn_is_rendered_in_the_falcon_format(oai: openai.OpenAI, emulator: Emulator) -> None:
    oai.chat.completions.create(
        model=MODEL_ID,
        messages=[
            {"role": "system", "content": "You are Falcon."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": [{"type": "text", "text": "More"}, {"type": "text", "text": "?"}]},
        ],
    )
    assert (
        emulator.requests[0]["payload"]["inputs"] == "You are Falcon.\n\nUser: Hi\nFalcon: Hello.\nUser: More?\nFalcon:"
    )


def test_openai_parameters_map_to_tgi_parameters(oai: openai.OpenAI, emulator: Emulator) -> None:
    oai.chat.completions.create(
        model=MODEL_ID, messages=USER, max_tokens=20, temperature=0.7, top_p=0.9, seed=42, stop="END", user="u1"
    )
    params = emulator.requests[0]["payload"]["parameters"]
    assert params == {
        "max_new_tokens": 20,
        "stop": ["\nUser:", "<|endoftext|>", "END"],
        "details": True,
        "return_full_text": False,
        "do_sample": True,
        "temperature": 0.7,
        "top_p": 0.9,
        "seed": 42,
    }


def test_temperature_zero_means_greedy(oai: openai.OpenAI, emulator: Emulator) -> None:
    oai.chat.completions.create(model=MODEL_ID, messages=USER, temperature=0, top_p=0.5)
    params = emulator.requests[0]["payload"]["parameters"]
    assert params["do_sample"] is False
    assert "temperature" not in params and "top_p" not in params


def test_top_p_one_is_not_sent(oai: openai.OpenAI, emulator: Emulator) -> None:
    oai.chat.completions.create(model=MODEL_ID, messages=USER, top_p=1.0)
    assert "top_p" not in emulator.requests[0]["payload"]["parameters"]


def test_max_completion_tokens_sets_max_new_tokens(oai: openai.OpenAI, emulator: Emulator) -> None:
    oai.chat.completions.create(model=MODEL_ID, messages=USER, max_completion_tokens=33)
    assert emulator.requests[0]["payload"]["parameters"]["max_new_tokens"] == 33


def test_stop_sequence_is_stripped_from_the_answer(oai: openai.OpenAI, emulator: Emulator) -> None:
    emulator.set_scenario(tokens=[" Sure", ".", "\n", "User", ":"], finish_reason="stop_sequence")
    completion = oai.chat.completions.create(model=MODEL_ID, messages=USER)
    assert completion.choices[0].message.content == "Sure."
    assert completion.choices[0].finish_reason == "stop"


def test_length_finish_reason(oai: openai.OpenAI, emulator: Emulator) -> None:
    completion = oai.chat.completions.create(model=MODEL_ID, messages=USER, max_tokens=3)
    assert completion.choices[0].message.content == "Hello! How"
    assert completion.choices[0].finish_reason == "length"


def test_stream_delivers_tokens_and_finish_reason(oai: openai.OpenAI, emulator: Emulator) -> None:
    chunks = list(oai.chat.completions.create(model=MODEL_ID, messages=USER, stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Hello! How can I help?"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)


def test_stream_never_sends_special_token_text(oai: openai.OpenAI, emulator: Emulator) -> None:
    chunks = list(oai.chat.completions.create(model=MODEL_ID, messages=USER, stream=True))
    assert not any("<|endoftext|>" in (c.choices[0].delta.content or "") for c in chunks if c.choices)


def test_stream_include_usage_adds_a_usage_chunk(oai: openai.OpenAI, emulator: Emulator) -> None:
    stream = oai.chat.completions.create(
        model=MODEL_ID, messages=USER, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    prompt_words = len(emulator.requests[0]["payload"]["inputs"].split())
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (prompt_words, 8)


def test_stream_strips_a_stop_sequence_split_across_tokens(oai: openai.OpenAI, emulator: Emulator) -> None:
    emulator.set_scenario(tokens=[" Sure", ".", "\n", "User", ":"], finish_reason="stop_sequence")
    chunks = list(oai.chat.completions.create(model=MODEL_ID, messages=USER, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Sure."


def test_stream_survives_parts_split_inside_utf8_and_data_lines(oai: openai.OpenAI, emulator: Emulator) -> None:
    tokens = ["H\u00e9", "llo ", "\U0001f600", " \u4e16\u754c"]
    for split in (1, 2, 3, 5, 7):
        emulator.set_scenario(tokens=tokens, split=split, tcp_split=split + 4, keepalive=True, crlf=split % 2 == 1)
        chunks = list(oai.chat.completions.create(model=MODEL_ID, messages=USER, stream=True))
        assert "".join(c.choices[0].delta.content or "" for c in chunks) == "H\u00e9llo \U0001f600 \u4e16\u754c"


def test_stream_with_data_space_prefix_and_arbitrary_cuts(oai: openai.OpenAI, emulator: Emulator) -> None:
    emulator.set_scenario(space=True, split=[3, 4, 10, 57, 58, 59, 200, 201, 333])
    chunks = list(oai.chat.completions.create(model=MODEL_ID, messages=USER, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Hello! How can I help?"


def test_stream_with_slow_tokens_arrives_incrementally(http: httpx.Client, emulator: Emulator) -> None:
    emulator.set_scenario(token_delay=0.05)
    body = {"model": MODEL_ID, "messages": USER, "stream": True}
    with http.stream("POST", "/v1/chat/completions", json=body) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data:")]
    assert response.headers["content-type"].startswith("text/event-stream")
    assert lines[-1] == "data: [DONE]"
    assert len(lines) == 1 + 7 + 1 + 1  # role, tokens, finish, [DONE]


def test_generate_matches_the_sdk_predict_shape(http: httpx.Client, emulator: Emulator) -> None:
    payload = {
        "inputs": "User: hi\nFalcon:",
        "parameters": {
            "do_sample": True,
            "top_p": 0.9,
            "temperature": 0.8,
            "max_new_tokens": 1024,
            "repetition_penalty": 1.03,
            "stop": ["\nUser:", "<|endoftext|>", "</s>"],
        },
    }
    response = http.post("/generate", json=payload)
    assert response.status_code == 200
    assert response.json() == [{"generated_text": "Hello! How can I help?"}]
    # The caller's parameters as sent, plus the details the proxy asks for to count tokens (and strips again), as a
    # stream: SageMaker allows a streamed invocation 8 minutes, a non-streamed one 60 seconds.
    sent = emulator.requests[0]
    assert sent["stream"] is True
    assert sent["payload"] == {**payload, "parameters": {**payload["parameters"], "details": True}, "stream": True}


def test_generate_return_full_text_and_details_pass_through(http: httpx.Client, emulator: Emulator) -> None:
    response = http.post("/generate", json={"inputs": "Hi", "parameters": {"return_full_text": True, "details": True}})
    (item,) = response.json()
    assert item["generated_text"] == "HiHello! How can I help?"
    assert item["details"]["finish_reason"] == "eos_token"


def test_generate_applies_the_default_max_new_tokens(http: httpx.Client, emulator: Emulator) -> None:
    http.post("/generate", json={"inputs": "Hi"})
    assert emulator.requests[0]["payload"]["parameters"]["max_new_tokens"] == 512


def test_generate_stream_passes_tgi_events_through(http: httpx.Client, emulator: Emulator) -> None:
    response = http.post("/generate", json={"inputs": "Hi", "stream": True, "parameters": {"details": True}})
    events = [json.loads(d) for d in sse_data(response.text)]
    assert [e["token"]["text"] for e in events] == [
        *["Hello", "!", " How", " can", " I", " help", "?"],
        "<|endoftext|>",
    ]
    assert events[-1]["generated_text"] == "Hello! How can I help?"
    assert events[-1]["details"]["finish_reason"] == "eos_token"
    assert emulator.requests[0]["payload"]["stream"] is True


def test_request_id_header_is_echoed(http: httpx.Client) -> None:
    assert http.get("/health", headers={"x-request-id": "abc-123"}).headers["x-request-id"] == "abc-123"


def test_request_id_is_generated_when_absent_or_unsafe(http: httpx.Client) -> None:
    response = http.get("/health", headers={"x-request-id": "bad id\twith spaces"})
    assert len(response.headers["x-request-id"]) == 32


def test_logs_are_json_with_request_id_and_no_prompt_text(http: httpx.Client, app_log, emulator: Emulator) -> None:
    http.post(
        "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "SECRET-PROMPT-42"}]},
        headers={"x-amzn-requestid": "log-check-1"},
    )
    # The access log line is written just after the response is sent: wait for it (bounded).
    (record,) = records_for(app_log, "log-check-1", "request")
    assert record["status"] == 200
    assert "SECRET-PROMPT-42" not in app_log.read_text()
