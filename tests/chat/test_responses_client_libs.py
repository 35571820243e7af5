"""Client libraries whose default path is the Responses API, unchanged but for base URL, key and model name,
against ``/v1/responses`` with the engine emulated as vLLM with server-side templates (what tool calling needs).

The OpenAI Agents SDK with its default provider running an agent with a function tool is issue 22's "done when".
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import agents
import httpx
import openai
import pytest
from chat_harness import MODEL_ID
from engine_stacks import Stack, make_stack
from pydantic_ai import Agent
from pydantic_ai.models.openai import OpenAIResponsesModel
from pydantic_ai.providers.openai import OpenAIProvider

ANSWER = "Hello! How can I help?"
CALL = {"name": "get_weather", "arguments": '{"city": "Paris"}'}


@pytest.fixture
def vllm(combo_apps: dict[str, str], session_emulator: Any) -> Stack:
    return make_stack(combo_apps, session_emulator, "vllm", "server")


def tool_results_sent(stack: Stack) -> list[dict[str, Any]]:
    """The tool messages the engine received on the last call."""
    return [m for m in stack.emulator.requests[-1]["payload"]["messages"] if m["role"] == "tool"]


def test_openai_python_function_tool_round_trip(vllm: Stack) -> None:
    vllm.scenario(tool_calls=[CALL])
    tools = [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]
    with vllm.openai() as client:
        first = client.responses.create(model=MODEL_ID, input="Weather in Paris?", tools=tools)  # type: ignore[arg-type]
        (call,) = [item for item in first.output if item.type == "function_call"]
        assert (call.name, json.loads(call.arguments)) == ("get_weather", {"city": "Paris"})
        second = client.responses.create(
            model=MODEL_ID,
            input=[
                {"role": "user", "content": "Weather in Paris?"},
                *[item.model_dump(exclude_none=True) for item in first.output],  # type: ignore[misc]
                {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"},
            ],
            tools=tools,  # type: ignore[arg-type]
        )
    assert second.output_text == ANSWER
    assert tool_results_sent(vllm) == [{"role": "tool", "tool_call_id": call.call_id, "content": "sunny"}]


@pytest.mark.parametrize("streamed", [False, True])
def test_openai_agents_sdk_default_provider_runs_an_agent_with_a_function_tool(vllm: Stack, streamed: bool) -> None:
    vllm.scenario(tool_calls=[CALL])
    seen: list[str] = []

    @agents.function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        seen.append(city)
        return f"Sunny in {city}"

    paths: list[str] = []

    async def record(request: httpx.Request) -> None:
        paths.append(request.url.path)

    async def run() -> str:
        http_client = httpx.AsyncClient(event_hooks={"request": [record]})
        client = openai.AsyncOpenAI(base_url=vllm.url + "/v1", api_key="unused", max_retries=0, http_client=http_client)
        agents.set_default_openai_client(client, use_for_tracing=False)
        agents.set_default_openai_api("responses")
        agents.set_tracing_disabled(True)
        agent = agents.Agent(name="weather", instructions="Use the tool.", model=MODEL_ID, tools=[get_weather])
        if streamed:
            result = agents.Runner.run_streamed(agent, "Weather in Paris?")
            async for _ in result.stream_events():
                pass
        else:
            result = await agents.Runner.run(agent, "Weather in Paris?")  # type: ignore[assignment]
        await client.close()
        return str(result.final_output)

    assert asyncio.run(run()) == ANSWER
    assert seen == ["Paris"]
    (tool_message,) = tool_results_sent(vllm)
    assert tool_message["content"] == "Sunny in Paris"
    assert paths == ["/v1/responses", "/v1/responses"]  # the tool call, then the answer to its result


def test_pydantic_ai_openai_responses_model_with_a_tool(vllm: Stack) -> None:
    vllm.scenario(tool_calls=[CALL])
    model = OpenAIResponsesModel(MODEL_ID, provider=OpenAIProvider(base_url=vllm.url + "/v1", api_key="unused"))
    agent = Agent(model)
    seen: list[str] = []

    @agent.tool_plain
    def get_weather(city: str) -> str:
        """The weather in a city."""
        seen.append(city)
        return f"Sunny in {city}"

    result = agent.run_sync("Weather in Paris?")
    assert result.output == ANSWER
    assert seen == ["Paris"]
    assert tool_results_sent(vllm)[0]["content"] == "Sunny in Paris"


def test_langchain_chat_openai_use_responses_api(vllm: Stack) -> None:
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(model=MODEL_ID, base_url=vllm.url + "/v1", api_key="unused", use_responses_api=True)  # type: ignore[arg-type]
    assert llm.invoke("Hi").text == ANSWER
    assert "".join(chunk.text for chunk in llm.stream("Hi")) == ANSWER
    vllm.scenario(tool_calls=[CALL])

    def get_weather(city: str) -> str:
        """The weather in a city."""
        return city

    message = llm.bind_tools([get_weather]).invoke("Weather in Paris?")
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [("get_weather", {"city": "Paris"})]
