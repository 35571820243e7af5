"""PROMPT_FAMILY=server on both engines, driven by the real openai client and LangChain's ChatOpenAI: tools
(streamed and not), a tool-result turn, structured output, logprobs, images, reasoning, usage; what the engine
receives is checked against what each engine's request parser accepts (the emulator refuses the rest)."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from chat_harness import MODEL_ID
from engine_stacks import Stack, make_stack
from openai_schema import assert_conforms, chunks_of
from sagemaker_runtime_emulator import Emulator

USER = [{"role": "user", "content": "What is the weather in Paris?"}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather of a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
CALL = {"name": "get_weather", "arguments": '{"city": "Paris", "unit": "celsius"}'}


@pytest.fixture(params=["tgi", "vllm"])
def server(request: pytest.FixtureRequest, combo_apps: dict[str, str], session_emulator: Emulator) -> Stack:
    return make_stack(combo_apps, session_emulator, request.param, "server")


def sent(stack: Stack) -> dict[str, Any]:
    (request,) = stack.emulator.requests
    return request["payload"]


def test_tool_call(server: Stack) -> None:
    server.scenario(tool_calls=[CALL])
    with server.openai() as client:
        completion = client.chat.completions.create(model=MODEL_ID, messages=USER, tools=[WEATHER_TOOL])
    assert_conforms("CreateChatCompletionResponse", completion.model_dump(mode="json", exclude_unset=True))
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris", "unit": "celsius"}
    assert call.id
    assert sent(server)["tools"] == [WEATHER_TOOL]


def test_tool_call_raw_answer_conforms(server: Stack) -> None:
    server.scenario(tool_calls=[CALL])
    with server.http() as http:
        body = http.post("/v1/chat/completions", json={"messages": USER, "tools": [WEATHER_TOOL]}).json()
    assert_conforms("CreateChatCompletionResponse", body)
    assert body["choices"][0]["message"]["content"] is None


def test_tool_call_streamed(server: Stack) -> None:
    server.scenario(tool_calls=[CALL])
    with server.openai() as client:
        stream = client.chat.completions.create(
            model=MODEL_ID, messages=USER, tools=[WEATHER_TOOL], tool_choice="auto", stream=True
        )
        chunks = list(stream)
    arguments = "".join(
        tc.function.arguments or ""
        for c in chunks
        if c.choices
        for tc in c.choices[0].delta.tool_calls or []
        if tc.function
    )
    names = [tc.function.name for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or [] if tc.function]
    assert json.loads(arguments) == {"city": "Paris", "unit": "celsius"}
    assert "get_weather" in names
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]


def test_tool_call_stream_chunks_conform(server: Stack) -> None:
    server.scenario(tool_calls=[CALL])
    body = {"messages": USER, "tools": [WEATHER_TOOL], "stream": True, "stream_options": {"include_usage": True}}
    with server.http() as http:
        chunks = chunks_of(http.post("/v1/chat/completions", json=body).text)
    for chunk in chunks:
        assert_conforms("CreateChatCompletionStreamResponse", chunk)
    assert chunks[-1]["usage"]["completion_tokens"] > 0


def test_tool_result_turn(server: Stack) -> None:
    messages = [
        *USER,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "18 °C, sunny"},
    ]
    with server.openai() as client:
        completion = client.chat.completions.create(model=MODEL_ID, messages=messages, tools=[WEATHER_TOOL])
    assert completion.choices[0].message.content == "Hello! How can I help?"
    forwarded = sent(server)["messages"]
    assert forwarded[2] == {"role": "tool", "tool_call_id": "call_1", "content": "18 °C, sunny"}
    assert forwarded[1]["tool_calls"][0]["function"]["name"] == "get_weather"
    if server.engine == "tgi":
        assert "content" not in forwarded[1]  # TGI's message body is content OR tool_calls


SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def test_json_schema_response_format(server: Stack) -> None:
    server.scenario(tokens=['{"city"', ': "Paris"}'])
    response_format = {"type": "json_schema", "json_schema": {"name": "place", "schema": SCHEMA, "strict": True}}
    with server.openai() as client:
        completion = client.chat.completions.create(
            model=MODEL_ID,
            messages=USER,
            response_format=response_format,  # type: ignore[arg-type]
        )
    assert json.loads(completion.choices[0].message.content or "") == {"city": "Paris"}
    forwarded = sent(server)["response_format"]
    if server.engine == "vllm":
        assert forwarded == response_format
    else:  # TGI's GrammarType (router/src/lib.rs)
        assert forwarded == {"type": "json_schema", "value": {"name": "place", "schema": SCHEMA}}


def test_json_object_response_format(server: Stack) -> None:
    with server.openai() as client:
        client.chat.completions.create(model=MODEL_ID, messages=USER, response_format={"type": "json_object"})
    forwarded = sent(server)["response_format"]
    expected = {"type": "json_object"} if server.engine == "vllm" else {"type": "json", "value": {"type": "object"}}
    assert forwarded == expected


def test_sampling_parameters_pass_through(server: Stack) -> None:
    with server.openai() as client:
        client.chat.completions.create(
            model=MODEL_ID,
            messages=[{"role": "developer", "content": "Be brief."}, *USER],
            temperature=0.3,
            top_p=0.9,
            seed=7,
            stop="END",
            frequency_penalty=0.5,
            presence_penalty=-0.5,
            max_completion_tokens=99,
            parallel_tool_calls=False,
            tools=[WEATHER_TOOL],
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
            user="u1",
        )
    payload = sent(server)
    assert payload["model"] == MODEL_ID
    assert (payload["temperature"], payload["top_p"], payload["seed"]) == (0.3, 0.9, 7)
    assert (payload["frequency_penalty"], payload["presence_penalty"]) == (0.5, -0.5)
    assert payload["stop"] == ["END"]
    if server.engine == "vllm":  # vLLM takes max_completion_tokens as it is
        assert payload["max_completion_tokens"] == 99 and "max_tokens" not in payload
    else:  # TGI's ChatRequest has max_tokens only
        assert payload["max_tokens"] == 99 and "max_completion_tokens" not in payload
    assert payload["messages"][0] == {"role": "system", "content": "Be brief."}
    assert payload["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert "user" not in payload
    assert ("parallel_tool_calls" in payload) == (server.engine == "vllm")


def test_default_max_tokens_is_the_engines(server: Stack) -> None:
    """vLLM applies the rest of the context itself; TGI's Messages API gets the proxy's documented default."""
    with server.openai() as client:
        client.chat.completions.create(model=MODEL_ID, messages=USER)
    if server.engine == "vllm":
        assert "max_tokens" not in sent(server)
    else:
        assert sent(server)["max_tokens"] == 512


def test_logprobs(server: Stack) -> None:
    body = {"messages": USER, "logprobs": True, "top_logprobs": 2}
    with server.http() as http:
        answer = http.post("/v1/chat/completions", json=body).json()
        chunks = chunks_of(http.post("/v1/chat/completions", json={**body, "stream": True}).text)
    assert_conforms("CreateChatCompletionResponse", answer)
    assert len(answer["choices"][0]["logprobs"]["content"][0]["top_logprobs"]) == 2
    for chunk in chunks:
        assert_conforms("CreateChatCompletionStreamResponse", chunk)
    assert any(c["choices"] and c["choices"][0].get("logprobs") for c in chunks)


def test_image_parts_pass_through(server: Stack) -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}}
    messages = [{"role": "user", "content": [{"type": "text", "text": "What is this?"}, image]}]
    with server.openai() as client:
        client.chat.completions.create(model=MODEL_ID, messages=messages)  # type: ignore[arg-type]
    part = sent(server)["messages"][0]["content"][1]
    expected = (
        image if server.engine == "vllm" else {"type": "image_url", "image_url": {"url": image["image_url"]["url"]}}
    )
    assert part == expected


def test_stream_usage_with_the_openai_client(server: Stack) -> None:
    with server.openai() as client:
        chunks = list(
            client.chat.completions.create(
                model=MODEL_ID, messages=USER, stream=True, stream_options={"include_usage": True}
            )
        )
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 6
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello! How can I help?"
    assert sent(server)["stream_options"] == {"include_usage": True}


def test_stream_without_usage_still_asks_the_engine_for_it(server: Stack) -> None:
    with server.openai() as client:
        chunks = list(client.chat.completions.create(model=MODEL_ID, messages=USER, stream=True))
    assert all(c.usage is None for c in chunks)
    assert sent(server)["stream_options"] == {"include_usage": True}


def test_reasoning_passes_through(combo_apps: dict[str, str], session_emulator: Emulator) -> None:
    stack = make_stack(combo_apps, session_emulator, "vllm", "server")
    stack.scenario(reasoning="The user greets me.")
    with stack.http() as http:
        body = http.post("/v1/chat/completions", json={"messages": USER}).json()
        assert_conforms("CreateChatCompletionResponse", body)
        assert body["choices"][0]["message"]["reasoning"] == "The user greets me."  # vLLM 0.29's field name
        chunks = chunks_of(http.post("/v1/chat/completions", json={"messages": USER, "stream": True}).text)
    for chunk in chunks:
        assert_conforms("CreateChatCompletionStreamResponse", chunk)
    reasoning = "".join(c["choices"][0]["delta"].get("reasoning", "") for c in chunks if c["choices"])
    assert reasoning.strip() == "The user greets me."


def test_vllm_served_name_mismatch_is_a_502(combo_apps: dict[str, str], session_emulator: Emulator) -> None:
    stack = make_stack(combo_apps, session_emulator, "vllm", "server")
    # Real vLLM's /invocations ignores `model`; a container that checks it (vLLM's /v1 routes) answers this 404.
    session_emulator.set_scenario(engine="vllm", served_model_name="some-other-name", fault="model404")
    with stack.http() as http:
        response = http.post("/v1/chat/completions", json={"messages": USER})
    assert response.status_code == 502
    assert_conforms("ErrorResponse", response.json())
    assert response.json()["error"]["code"] == "model_mismatch"


def test_openai_client_sees_the_engines_validation_error(server: Stack) -> None:
    server.scenario(fault="model422", model_message="This model's maximum context length is 2048 tokens.")
    with server.openai() as client, pytest.raises(openai.BadRequestError, match="maximum context length"):
        client.chat.completions.create(model=MODEL_ID, messages=USER)


def test_openai_client_raises_on_a_mid_stream_error(server: Stack) -> None:
    server.scenario(error_after=3, error_message="CUDA out of memory")
    with server.openai() as client:
        stream = client.chat.completions.create(model=MODEL_ID, messages=USER, stream=True)
        with pytest.raises(openai.APIError, match="CUDA out of memory"):
            list(stream)


SERVER_BAD: list[tuple[str, dict[str, Any], str, str]] = [
    ("tool_choice without tools", {"messages": USER, "tool_choice": "required"}, "tool_choice", "invalid_value"),
    ("top_logprobs without logprobs", {"messages": USER, "top_logprobs": 2}, "top_logprobs", "invalid_value"),
    (
        "top_logprobs too many",
        {"messages": USER, "logprobs": True, "top_logprobs": 21},
        "top_logprobs",
        "invalid_value",
    ),
    (
        "assistant with nothing",
        {"messages": [*USER, {"role": "assistant"}, *USER]},
        "messages[1].content",
        "invalid_value",
    ),
    (
        "tool message without id",
        {"messages": [*USER, {"role": "tool", "content": "x"}]},
        "messages[1].tool_call_id",
        "missing_required_parameter",
    ),
    (
        "bad function name",
        {"messages": USER, "tools": [{"type": "function", "function": {"name": "get weather"}}]},
        "tools[0].function.name",
        "invalid_value",
    ),
    (
        "unknown tool field",
        {"messages": USER, "tools": [{"type": "function", "function": {"name": "f"}, "extra": 1}]},
        "tools[0].extra",
        "unknown_parameter",
    ),
    (
        "json_schema without name",
        {"messages": USER, "response_format": {"type": "json_schema", "json_schema": {"schema": {}}}},
        "response_format.json_schema.name",
        "missing_required_parameter",
    ),
    (
        "unknown response format",
        {"messages": USER, "response_format": {"type": "yaml"}},
        "response_format.type",
        "invalid_value",
    ),
    (
        "image without url",
        {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
        "messages[0].content[0].image_url.url",
        "missing_required_parameter",
    ),
    (
        "tool call arguments not a string",
        {
            "messages": [
                *USER,
                {
                    "role": "assistant",
                    "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": {}}}],
                },
            ]
        },
        "messages[1].tool_calls[0].function.arguments",
        "invalid_value",
    ),
    ("max_tokens zero", {"messages": USER, "max_tokens": 0}, "max_tokens", "invalid_value"),
    ("stream_options without stream", {"messages": USER, "stream_options": {}}, "stream_options", "invalid_value"),
    ("unknown field", {"messages": USER, "reasoning_efort": "low"}, "reasoning_efort", "unknown_parameter"),
]


@pytest.mark.parametrize(("case", "body", "param", "code"), SERVER_BAD, ids=[c[0] for c in SERVER_BAD])
def test_server_mode_bad_input(server: Stack, case: str, body: dict[str, Any], param: str, code: str) -> None:
    with server.http() as http:
        response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == 400, response.text
    assert_conforms("ErrorResponse", response.json())
    assert (response.json()["error"]["param"], response.json()["error"]["code"]) == (param, code)
    assert server.emulator.requests == []


def test_langchain_chat_openai(server: Stack) -> None:
    from langchain_core.messages import HumanMessage
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(model=MODEL_ID, base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=15)  # type: ignore[arg-type]
    assert llm.invoke([HumanMessage("Hi")]).content == "Hello! How can I help?"
    assert "".join(str(chunk.content) for chunk in llm.stream("Hi")) == "Hello! How can I help?"


def test_langchain_tool_calling(server: Stack) -> None:
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI

    @tool
    def get_weather(city: str, unit: str) -> str:
        """The current weather of a city."""
        return "18"

    server.scenario(tool_calls=[CALL])
    llm = ChatOpenAI(model=MODEL_ID, base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=15)  # type: ignore[arg-type]
    message = llm.bind_tools([get_weather]).invoke("Weather in Paris?")
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [
        ("get_weather", {"city": "Paris", "unit": "celsius"})
    ]
    streamed = None
    for chunk in llm.bind_tools([get_weather]).stream("Weather in Paris?"):
        streamed = chunk if streamed is None else streamed + chunk
    assert streamed is not None
    assert [(c["name"], c["args"]) for c in streamed.tool_calls] == [  # type: ignore[attr-defined]
        ("get_weather", {"city": "Paris", "unit": "celsius"})
    ]
