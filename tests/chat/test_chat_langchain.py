"""LangChain's ChatOpenAI, unchanged, against the running app (uvicorn, as `make dev`) and the emulator.

Tool calling needs the engine to render the model's own chat template (``prompt_family=server``); with the
proxy-rendered families (falcon, chatml, ...) the API answers plain text only.
"""

from __future__ import annotations

from typing import Any

import pytest
from chat_harness import MODEL_ID
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI
from sagemaker_runtime_emulator import Emulator


@pytest.fixture
def llm(app_url: str) -> ChatOpenAI:
    return ChatOpenAI(
        base_url=f"{app_url}/v1", api_key="unused", model="falcon-40b-instruct", max_retries=0, timeout=15
    )  # type: ignore[call-arg]


def test_invoke_answers_and_sends_the_conversation(llm: ChatOpenAI, emulator: Emulator) -> None:
    reply = llm.invoke(
        [
            SystemMessage("You are terse."),
            HumanMessage("Hi"),
            AIMessage("Hello."),
            HumanMessage("What is SageMaker?"),
        ]
    )
    assert isinstance(reply, AIMessage) and reply.content == "Hello! How can I help?"
    assert reply.response_metadata["finish_reason"] == "stop"
    assert emulator.requests[-1]["payload"]["inputs"] == (
        "You are terse.\n\nUser: Hi\nFalcon: Hello.\nUser: What is SageMaker?\nFalcon:"
    )


def test_stream_yields_the_tokens_as_chunks(llm: ChatOpenAI, emulator: Emulator) -> None:
    chunks = list(llm.stream("Hi"))
    texts = [c.content for c in chunks if c.content]
    assert len(texts) >= 5 and "".join(str(t) for t in texts) == "Hello! How can I help?"
    assert emulator.requests[-1]["stream"] is True


def test_generation_parameters_reach_the_model(app_url: str, emulator: Emulator) -> None:
    llm: Any = ChatOpenAI(
        base_url=f"{app_url}/v1", api_key="unused", model=MODEL_ID, temperature=0.3, max_tokens=3, max_retries=0
    )  # type: ignore[call-arg]
    reply = llm.invoke("Hi")
    assert reply.content == "Hello! How" and reply.response_metadata["finish_reason"] == "length"
    parameters = emulator.requests[-1]["payload"]["parameters"]
    assert parameters["temperature"] == 0.3 and parameters["max_new_tokens"] == 3


def test_api_errors_surface_as_openai_errors(llm: ChatOpenAI, emulator: Emulator) -> None:
    import openai

    emulator.set_scenario(fault="model422")
    with pytest.raises(openai.BadRequestError, match="Input validation error"):
        llm.invoke("Too long")
