"""``POST /v1/responses`` on every ENGINE x PROMPT_FAMILY combination through the chat route, every answer, event
and error checked against OpenAI's published schema, with the real ``openai`` client where it applies."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from chat_harness import MODEL_ID
from engine_stacks import Stack
from openai_schema import assert_conforms, response_events

ANSWER = "Hello! How can I help?"
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
CALL = {"name": "get_weather", "arguments": '{"city": "Paris"}'}


def engine_payload(stack: Stack) -> dict[str, Any]:
    return stack.emulator.requests[-1]["payload"]


def stream_events(stack: Stack, body: dict[str, Any]) -> list[dict[str, Any]]:
    with stack.http() as http:
        response = http.post("/v1/responses", json={**body, "stream": True})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return response_events(response.text)


def test_text_answer_with_the_openai_client(stack: Stack) -> None:
    with stack.openai() as client:
        answer = client.responses.create(model=MODEL_ID, input="Hi there", instructions="Be brief.")
    raw = answer.model_dump(mode="json", exclude_unset=True)
    assert_conforms("Response", raw)
    assert answer.output_text == ANSWER
    assert (answer.status, answer.model, answer.instructions) == ("completed", MODEL_ID, "Be brief.")
    assert answer.id.startswith("resp_") and answer.output[0].type == "message"
    assert answer.usage is not None and answer.usage.output_tokens > 0
    assert answer.usage.total_tokens == answer.usage.input_tokens + answer.usage.output_tokens
    payload = engine_payload(stack)
    if stack.server:
        assert payload["messages"] == [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi there"},
        ]
    else:
        text = payload.get("inputs") or payload.get("prompt")
        assert "Be brief." in text and "Hi there" in text


def test_stream_event_sequence(stack: Stack) -> None:
    events = stream_events(stack, {"input": [{"role": "user", "content": "Hi there"}]})
    kinds = [e["type"] for e in events]
    deltas = kinds.count("response.output_text.delta")
    assert deltas >= 1
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * deltas,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert text == ANSWER == events[-4]["text"]
    final = events[-1]["response"]
    assert final["status"] == "completed" and final["usage"]["output_tokens"] > 0
    assert final["output"] == [events[-2]["item"]]
    assert final["id"] == events[0]["response"]["id"]


def test_stream_with_the_openai_client(stack: Stack) -> None:
    with stack.openai() as client, client.responses.stream(model=MODEL_ID, input="Hi") as stream:
        text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert text == final.output_text == ANSWER


def test_length_limit_gives_incomplete(stack: Stack) -> None:
    stack.scenario(finish_reason="length")
    with stack.http() as http:
        body = http.post("/v1/responses", json={"input": "Hi", "max_output_tokens": 7}).json()
    assert_conforms("Response", body)
    assert (body["status"], body["incomplete_details"]) == ("incomplete", {"reason": "max_output_tokens"})
    assert body["max_output_tokens"] == 7
    events = stream_events(stack, {"input": "Hi", "max_output_tokens": 7})
    assert events[-1]["type"] == "response.incomplete"
    assert events[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


@pytest.mark.parametrize("stream", [False, True])
def test_function_tool_round_trip(stack: Stack, stream: bool) -> None:
    if not stack.server:
        pytest.skip("tools need the engine's chat template (PROMPT_FAMILY=server); refused otherwise")
    stack.scenario(tool_calls=[CALL])
    request: dict[str, Any] = {"input": "Weather in Paris?", "tools": [WEATHER_TOOL], "tool_choice": "auto"}
    if stream:
        events = stream_events(stack, request)
        kinds = [e["type"] for e in events]
        assert "response.function_call_arguments.delta" in kinds
        done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
        assert (done["name"], json.loads(done["arguments"])) == ("get_weather", {"city": "Paris"})
        output = events[-1]["response"]["output"]
    else:
        with stack.http() as http:
            body = http.post("/v1/responses", json=request).json()
        assert_conforms("Response", body)
        output = body["output"]
    calls = [item for item in output if item["type"] == "function_call"]
    assert len(calls) == 1 and calls[0]["name"] == "get_weather"
    assert json.loads(calls[0]["arguments"]) == {"city": "Paris"}
    assert engine_payload(stack)["tools"][0]["function"]["name"] == "get_weather"
    # The client runs the tool and sends the call and its output back: the engine gets a tool message.
    stack.scenario()
    follow_up = {
        "input": [
            {"role": "user", "content": "Weather in Paris?"},
            *output,
            {"type": "function_call_output", "call_id": calls[0]["call_id"], "output": "Sunny, 21 C"},
        ],
        "tools": [WEATHER_TOOL],
    }
    with stack.openai() as client:
        answer = client.responses.create(model=MODEL_ID, **follow_up)
    assert answer.output_text == ANSWER
    messages = engine_payload(stack)["messages"]
    assert messages[-1] == {"role": "tool", "tool_call_id": calls[0]["call_id"], "content": "Sunny, 21 C"}
    assert messages[-2]["role"] == "assistant"
    assert messages[-2]["tool_calls"][0]["function"]["name"] == "get_weather"


def test_named_tool_choice_and_json_schema_format_reach_the_engine(stack: Stack) -> None:
    if not stack.server:
        pytest.skip("server family only")
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    with stack.http() as http:
        response = http.post(
            "/v1/responses",
            json={
                "input": "x",
                "tools": [WEATHER_TOOL],
                "tool_choice": {"type": "function", "name": "get_weather"},
                "text": {"format": {"type": "json_schema", "name": "out", "schema": schema, "strict": True}},
                "temperature": 0,
                "metadata": {"k": "v"},
                "user": "u-1",
            },
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert_conforms("Response", body)
    assert (body["metadata"], body["user"], body["temperature"]) == ({"k": "v"}, "u-1", 0)
    assert body["text"]["format"]["type"] == "json_schema"
    payload = engine_payload(stack)
    assert payload["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    if stack.engine == "vllm":
        assert payload["response_format"] == {
            "type": "json_schema",
            "json_schema": {"name": "out", "schema": schema, "strict": True},
        }


def test_reasoning_is_a_reasoning_item(combo_apps: dict[str, str], session_emulator: Any) -> None:
    from engine_stacks import make_stack

    stack = make_stack(combo_apps, session_emulator, "vllm", "server")
    stack.scenario(reasoning="think about it")
    with stack.http() as http:
        body = http.post("/v1/responses", json={"input": "Hi"}).json()
    assert_conforms("Response", body)
    assert body["output"][0]["type"] == "reasoning"
    assert body["output"][0]["content"][0]["text"].strip() == "think about it"
    assert body["output"][1]["content"][0]["text"] == ANSWER
    events = stream_events(stack, {"input": "Hi"})
    kinds = [e["type"] for e in events]
    assert kinds.index("response.reasoning_text.delta") < kinds.index("response.reasoning_text.done")
    assert kinds.index("response.reasoning_text.done") < kinds.index("response.output_text.delta")
    assert events[-1]["response"]["output"][0]["type"] == "reasoning"


def test_error_mid_stream_is_error_then_failed(stack: Stack) -> None:
    stack.scenario(error_after=2)
    events = stream_events(stack, {"input": "Hi"})
    assert [e["type"] for e in events][-2:] == ["error", "response.failed"]
    assert events[-1]["response"]["status"] == "failed"
    assert events[-1]["response"]["error"]["code"] == "server_error"


def test_model_error_before_the_stream_is_an_http_error(stack: Stack) -> None:
    stack.scenario(fault="model422")
    with stack.http() as http:
        response = http.post("/v1/responses", json={"input": "Hi", "stream": True})
    assert response.status_code == 400
    assert_conforms("ErrorResponse", response.json())


def test_proxy_family_refuses_tools_naming_the_field(stack: Stack) -> None:
    if stack.server:
        pytest.skip("proxy families only")
    with stack.http() as http:
        response = http.post("/v1/responses", json={"input": "Hi", "tools": [WEATHER_TOOL]})
    assert response.status_code == 400
    assert_conforms("ErrorResponse", response.json())
    assert response.json()["error"]["param"] == "tools"


def test_chat_errors_name_the_responses_field(http: Any) -> None:
    too_many = http.post("/v1/responses", json={"input": "Hi", "max_output_tokens": 10**6})
    assert too_many.status_code == 400
    assert too_many.json()["error"]["param"] == "max_output_tokens"
    assert "max_output_tokens=" in too_many.json()["error"]["message"]
    late_system = http.post(
        "/v1/responses",
        json={"input": [{"role": "user", "content": "a"}, {"role": "system", "content": "b"}]},
    )
    assert late_system.status_code == 400
    assert late_system.json()["error"]["param"].startswith("input[1]")


def test_openai_client_sees_unsupported_features_as_bad_request(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        oai.responses.create(model=MODEL_ID, input="Hi", tools=[{"type": "web_search"}])
    assert caught.value.body["param"] == "tools[0].type"  # type: ignore[index]
    assert "hosted tools" in caught.value.body["message"]  # type: ignore[index]


def test_input_image_reaches_the_engine_as_chat_image_part(stack: Stack) -> None:
    if not stack.server:
        pytest.skip("images need the engine's chat template; refused otherwise (test_responses_bad_input.py)")
    # A data: URL: the media policy refuses https hosts unless the operator allows them (test_chat_media_urls.py).
    url = "data:image/png;base64,iVBORw0KGgo="
    content = [
        {"type": "input_text", "text": "What is this?"},
        {"type": "input_image", "image_url": url, "detail": "low"},
    ]
    with stack.http() as http:
        response = http.post("/v1/responses", json={"input": [{"role": "user", "content": content}]})
    assert response.status_code == 200, response.text
    (message,) = engine_payload(stack)["messages"]
    image = {"url": url} if stack.engine == "tgi" else {"url": url, "detail": "low"}
    assert message["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": image},
    ]
