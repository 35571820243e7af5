"""Backend faults mapped to statuses that say whose fault it was; broken streams end cleanly."""

from __future__ import annotations

import json

import httpx
import openai
import pytest
from chat_harness import MODEL_ID, READ_TIMEOUT
from sagemaker_runtime_emulator import Emulator

CHAT = {"messages": [{"role": "user", "content": "hi"}]}
GEN = {"inputs": "hi"}


def error_of(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert "Traceback" not in response.text and "botocore" not in response.text
    return body["error"]


def sse_data(text: str) -> list[str]:
    return [line[len("data:") :].strip() for line in text.splitlines() if line.startswith("data:")]


@pytest.mark.parametrize("stream", [False, True])
def test_model_422_is_400_with_tgis_message(http: httpx.Client, emulator: Emulator, stream: bool) -> None:
    emulator.set_scenario(fault="model422")
    response = http.post("/v1/chat/completions", json={**CHAT, "stream": stream})
    assert response.status_code == 400
    error = error_of(response)
    assert error["message"] == "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 2048"
    assert (error["type"], error["code"]) == ("invalid_request_error", "model_validation_error")


def test_model_424_is_502(http: httpx.Client, emulator: Emulator) -> None:
    emulator.set_scenario(fault="model424", model_message="Request failed during generation")
    response = http.post("/generate", json=GEN)
    assert response.status_code == 502
    assert error_of(response)["code"] == "model_error"
    assert "Request failed during generation" in error_of(response)["message"]


def test_model_429_is_429_with_retry_after(http: httpx.Client, emulator: Emulator) -> None:
    emulator.set_scenario(fault="model429")
    response = http.post("/generate", json=GEN)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert error_of(response)["code"] == "model_overloaded"


def test_throttling_is_retried_then_429_with_retry_after(http: httpx.Client, emulator: Emulator) -> None:
    emulator.set_scenario(fault="throttle")
    response = http.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert (error_of(response)["type"], error_of(response)["code"]) == ("rate_limit_error", "throttled")
    assert len(emulator.requests) == 3


def test_transient_throttling_is_retried_transparently(http: httpx.Client, emulator: Emulator) -> None:
    emulator.set_scenario(fault="throttle", fault_times=1)
    response = http.post("/v1/chat/completions", json={**CHAT, "stream": True})
    assert response.status_code == 200
    assert sse_data(response.text)[-1] == "[DONE]"
    assert len(emulator.requests) == 2


def test_model_errors_are_not_retried(http: httpx.Client, emulator: Emulator) -> None:
    emulator.set_scenario(fault="model424")
    http.post("/generate", json=GEN)
    assert len(emulator.requests) == 1


@pytest.mark.parametrize("stream", [False, True])
def test_endpoint_not_found_is_503(http: httpx.Client, emulator: Emulator, stream: bool) -> None:
    emulator.set_scenario(fault="not_found")
    response = http.post("/generate", json={**GEN, "stream": stream})
    assert response.status_code == 503
    assert error_of(response)["code"] == "endpoint_unavailable"
    assert "account" not in error_of(response)["message"]  # no account id leaks


def test_service_unavailable_is_503_after_retries(http: httpx.Client, emulator: Emulator) -> None:
    emulator.set_scenario(fault="unavailable")
    response = http.post("/generate", json=GEN)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert len(emulator.requests) == 3


def test_internal_failure_is_502(http: httpx.Client, emulator: Emulator) -> None:
    emulator.set_scenario(fault="internal")
    response = http.post("/generate", json=GEN)
    assert response.status_code == 502
    assert error_of(response)["code"] == "backend_error"


def test_non_json_model_answer_is_502(http: httpx.Client, emulator: Emulator) -> None:
    emulator.set_scenario(fault="badjson")
    # decoder_input_details: TGI refuses it on a stream, so this is one of the calls still made with InvokeEndpoint.
    response = http.post("/generate", json={**GEN, "parameters": {"decoder_input_details": True}})
    assert response.status_code == 502
    assert error_of(response)["code"] == "bad_response"


def test_read_timeout_is_504_and_not_retried(http: httpx.Client, emulator: Emulator) -> None:
    emulator.set_scenario(delay=READ_TIMEOUT + 0.5)
    response = http.post("/generate", json=GEN)
    assert response.status_code == 504
    assert (error_of(response)["type"], error_of(response)["code"]) == ("timeout_error", "timeout")
    assert len(emulator.requests) == 1


def test_tgi_error_before_first_token_is_an_http_error(http: httpx.Client, emulator: Emulator) -> None:
    emulator.set_scenario(error_after=0, error_type="validation", error_message="Input validation error: bad")
    response = http.post("/v1/chat/completions", json={**CHAT, "stream": True})
    assert response.status_code == 400
    assert error_of(response)["message"] == "Input validation error: bad"


def test_tgi_error_mid_stream_ends_chat_with_error_event_and_done(
    oai: openai.OpenAI, http: httpx.Client, emulator: Emulator
) -> None:
    emulator.set_scenario(error_after=3)
    response = http.post("/v1/chat/completions", json={**CHAT, "stream": True})
    data = sse_data(response.text)
    assert response.status_code == 200
    assert data[-1] == "[DONE]"
    error = json.loads(data[-2])["error"]
    assert (error["code"], error["type"]) == ("model_error", "upstream_error")
    assert "CUDA out of memory" in error["message"]
    assert "".join(json.loads(d)["choices"][0]["delta"].get("content", "") for d in data[:-2]) == "Hello! How"


def test_openai_client_raises_on_mid_stream_error(oai: openai.OpenAI, emulator: Emulator) -> None:
    emulator.set_scenario(error_after=2)
    stream = oai.chat.completions.create(model=MODEL_ID, messages=CHAT["messages"], stream=True)
    with pytest.raises(openai.APIError, match="CUDA out of memory"):
        list(stream)


def test_tgi_error_mid_stream_passes_through_on_generate(http: httpx.Client, emulator: Emulator) -> None:
    emulator.set_scenario(error_after=2)
    data = sse_data(http.post("/generate", json={**GEN, "stream": True}).text)
    assert json.loads(data[-1]) == {"error": "CUDA out of memory", "error_type": "generation"}
    assert len(data) == 3


@pytest.mark.parametrize("fault", [{"cut_after": 2}, {"stream_exception_after": 2}])
def test_broken_stream_after_first_token_ends_chat_cleanly(http: httpx.Client, emulator: Emulator, fault: dict) -> None:
    emulator.set_scenario(**fault)
    response = http.post("/v1/chat/completions", json={**CHAT, "stream": True})
    data = sse_data(response.text)
    assert response.status_code == 200
    assert data[-1] == "[DONE]"
    assert json.loads(data[-2])["error"]["type"] == "upstream_error"
    assert len(emulator.requests) == 1  # never retried after the first token


def test_broken_stream_ends_generate_with_tgi_error_event(http: httpx.Client, emulator: Emulator) -> None:
    emulator.set_scenario(stream_exception_after=1)
    data = sse_data(http.post("/generate", json={**GEN, "stream": True}).text)
    assert json.loads(data[-1]) == {"error": "The model stream failed.", "error_type": "stream_error"}


def test_slow_token_beyond_read_timeout_mid_stream_ends_with_timeout_event(
    http: httpx.Client, emulator: Emulator
) -> None:
    emulator.set_scenario(tokens=["a", "b"], token_delay=READ_TIMEOUT + 0.5)
    data = sse_data(http.post("/v1/chat/completions", json={**CHAT, "stream": True}).text)
    assert json.loads(data[-2])["error"]["code"] == "timeout"
    assert data[-1] == "[DONE]"
