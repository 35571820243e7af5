"""The SageMaker-runtime emulator (tests/chat) behaving as vLLM agrees with the real engine on everything both can
show: the same calls, made with boto3 through the SageMaker runtime API to the emulator and to the stand-in in
front of real vLLM, give answers of the same shape (field names and types; texts differ, the emulator's model is
a script). The emulator stays for what a real engine cannot be made to do (424s, throttling, broken streams).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from engine_harness import EngineApi
from sagemaker_runtime_emulator import Emulator

TOOL_ARGS = '{"city": "Paris"}'
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }
]
NAMED = {"type": "function", "function": {"name": "get_weather"}}


@pytest.fixture(scope="module")
def emulator(engine_api: EngineApi) -> Iterator[Emulator]:
    emulated = Emulator().start()
    yield emulated
    emulated.stop()


def runtime(url: str) -> Any:
    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}, read_timeout=300),
    )


def invoke(url: str, body: dict[str, Any]) -> Any:
    """The container's answer as the SageMaker runtime hands it over: JSON, SSE events, or the ModelError."""
    client = runtime(url)
    raw = json.dumps(body)
    try:
        if not body.get("stream"):
            answer = client.invoke_endpoint(EndpointName="e", Body=raw, ContentType="application/json")
            return json.loads(answer["Body"].read())
        answer = client.invoke_endpoint_with_response_stream(EndpointName="e", Body=raw, ContentType="application/json")
        data = b"".join(event["PayloadPart"]["Bytes"] for event in answer["Body"] if "PayloadPart" in event)
    except ClientError as error:
        info = error.response["Error"]
        original = error.response.get("OriginalMessage") or info.get("OriginalMessage") or "{}"
        return {"aws_error": info["Code"], "status": error.response.get("OriginalStatusCode"),
                "body": json.loads(original)}  # fmt: skip
    events = [line[5:].strip() for line in data.decode().splitlines() if line.startswith("data:")]
    return [e if e == "[DONE]" else json.loads(e) for e in events]


def shape(value: Any) -> Any:
    """Field names and JSON types; a null field counts as absent (clients read both alike). ``stop_reason`` is left
    out: whether vLLM reports the stop token's id there depends on which stop token the model emitted."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in sorted(value.items()) if v is not None and k != "stop_reason"}
    if isinstance(value, list):
        return [shape(v) for v in value[:1]]
    return type(value).__name__.replace("int", "number").replace("float", "number")


def chunk_shapes(events: list[Any]) -> list[str]:
    """The distinct chunk shapes of a stream (how many chunks carry text depends on the text)."""
    return sorted({json.dumps(shape(e), sort_keys=True) for e in events})


def both(engine_api: EngineApi, emulator: Emulator, body: dict[str, Any], **scenario: Any) -> tuple[Any, Any]:
    assert engine_api.stand_in is not None
    emulator.set_scenario(engine="vllm", served_model_name=engine_api.model, **scenario)
    return invoke(engine_api.stand_in.url, body), invoke(emulator.url, body)


def chat(api: EngineApi, **fields: Any) -> dict[str, Any]:
    return {"model": api.model, "messages": [{"role": "user", "content": "Say hi"}], "temperature": 0, "seed": 7,
            "max_tokens": 6, **fields}  # fmt: skip


def test_chat_answer_has_the_engines_shape(engine_api: EngineApi, emulator: Emulator) -> None:
    real, emulated = both(engine_api, emulator, chat(engine_api))
    assert shape(emulated) == shape(real)


def test_chat_logprobs_have_the_engines_shape(engine_api: EngineApi, emulator: Emulator) -> None:
    real, emulated = both(engine_api, emulator, chat(engine_api, logprobs=True, top_logprobs=2))
    assert shape(emulated) == shape(real)


@pytest.mark.parametrize("usage", [False, True])
def test_chat_stream_chunks_have_the_engines_shapes(engine_api: EngineApi, emulator: Emulator, usage: bool) -> None:
    body = chat(engine_api, stream=True, **({"stream_options": {"include_usage": True}} if usage else {}))
    real, emulated = both(engine_api, emulator, body)
    assert chunk_shapes(emulated) == chunk_shapes(real)
    assert real[-1] == emulated[-1] == "[DONE]"


def test_forced_tool_call_has_the_engines_shape(engine_api: EngineApi, emulator: Emulator) -> None:
    body = chat(engine_api, tools=TOOLS, tool_choice=NAMED, max_tokens=200, temperature=1.0, seed=3)
    real, emulated = both(engine_api, emulator, body, tool_calls=[{"name": "get_weather", "arguments": TOOL_ARGS}])
    assert real["choices"][0]["message"].get("tool_calls"), real
    assert shape(emulated) == shape(real)


def test_forced_tool_call_stream_has_the_engines_delta_shapes(engine_api: EngineApi, emulator: Emulator) -> None:
    body = chat(engine_api, tools=TOOLS, tool_choice=NAMED, max_tokens=200, temperature=1.0, seed=3, stream=True)
    real, emulated = both(engine_api, emulator, body, tool_calls=[{"name": "get_weather", "arguments": TOOL_ARGS}])
    assert chunk_shapes(emulated) == chunk_shapes(real)


@pytest.mark.parametrize("stream", [False, True])
def test_completion_has_the_engines_shape(engine_api: EngineApi, emulator: Emulator, stream: bool) -> None:
    body = {"model": engine_api.model, "prompt": "Hello", "temperature": 0, "max_tokens": 6, "stream": stream}
    real, emulated = both(engine_api, emulator, body)
    if stream:
        assert chunk_shapes(emulated) == chunk_shapes(real)
    else:
        assert shape(emulated) == shape(real)


def test_invocations_ignores_the_model_name_like_the_engine(engine_api: EngineApi, emulator: Emulator) -> None:
    """vLLM's SageMaker route (/invocations) answers whatever `model` says (only its /v1 routes check it)."""
    real, emulated = both(engine_api, emulator, chat(engine_api, model="not-served"))
    assert "aws_error" not in real and "aws_error" not in emulated
    assert shape(emulated) == shape(real)


def test_a_refused_request_is_the_same_model_error(engine_api: EngineApi, emulator: Emulator) -> None:
    """What vLLM refuses (here a negative temperature) reaches the caller as SageMaker's ModelError carrying the
    engine's status and OpenAI-shaped body; the emulator's scripted refusal looks the same."""
    real, emulated = both(engine_api, emulator, chat(engine_api, temperature=-1), fault="model422",
                          model_message="temperature must be non-negative", error_param="temperature")  # fmt: skip
    assert real["aws_error"] == emulated["aws_error"] == "ModelError"
    assert real["status"] == emulated["status"] == 400
    assert shape(emulated["body"]) == shape(real["body"])
    assert real["body"]["error"]["type"] == emulated["body"]["error"]["type"]
