"""Several models on one endpoint (``MODEL_ROUTES``): the request's ``model`` picks the inference component, through
a real uvicorn app (as ``make dev`` runs it), real botocore and the real openai client, against the SageMaker
runtime emulator answering per component; ``/v1/models`` lists every model; ``/v1/embeddings`` in OpenAI's shape
with its validation; metering carries the routed model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from chat_harness import MODEL_ID, app_env, start_app
from openai_schema import assert_conforms
from sagemaker_runtime_emulator import Emulator
from usage_harness import emf_records, wait_for

HTTP_TIMEOUT = 60.0
NAMESPACE = "LlmChat/ModelsTest"
ROUTES: dict[str, dict[str, Any]] = {
    "qwen-chat": {"component": "qwen-ic", "kind": "chat", "engine": "vllm", "context_length": 4096},
    "qwen": {"component": "qwen-ic", "kind": "chat", "engine": "vllm"},
    "falcon": {"component": "falcon-ic", "kind": "chat", "engine": "tgi", "prompt_family": "falcon"},
    "support-bot": {"component": "support-bot-ic", "kind": "chat", "engine": "vllm", "base": "qwen-chat"},
    "bge-small": {"component": "bge-ic", "kind": "embedding", "engine": "vllm"},
}
# Each component's container answers its own words, so an answer shows which component served it.
COMPONENTS: dict[str, dict[str, Any]] = {
    "qwen-ic": {"engine": "vllm", "tokens": ["qwen", " here"]},
    "falcon-ic": {"engine": "tgi", "tokens": ["falcon", " here"]},
    "support-bot-ic": {"engine": "vllm", "tokens": ["support", " here"]},
    "bge-ic": {"engine": "vllm", "pooling": True},
}
CHAT_NAMES = {"qwen-chat": "qwen-ic", "qwen": "qwen-ic", "falcon": "falcon-ic", "support-bot": "support-bot-ic"}
SERVED = {"qwen-ic": "qwen-chat", "support-bot-ic": "support-bot", "bge-ic": "bge-small"}


@pytest.fixture(scope="module")
def models_app(session_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    log = tmp_path_factory.mktemp("models") / "app.log"
    env = app_env(session_emulator.url, MODEL_ROUTES=json.dumps(ROUTES), METRICS_NAMESPACE=NAMESPACE)
    proc, url = start_app(env, log)
    yield url, log
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def routed(emulator: Emulator) -> Emulator:
    emulator.set_scenario(components=COMPONENTS)
    return emulator


@pytest.fixture
def client(models_app: tuple[str, Path]) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=models_app[0] + "/v1", api_key="unused", max_retries=0, timeout=HTTP_TIMEOUT) as oai:
        yield oai


@pytest.fixture
def http_models(models_app: tuple[str, Path]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=models_app[0], timeout=HTTP_TIMEOUT) as http:
        yield http


@pytest.mark.parametrize("name", sorted(CHAT_NAMES))
def test_each_chat_model_reaches_its_component(routed: Emulator, client: openai.OpenAI, name: str) -> None:
    component = CHAT_NAMES[name]
    answer = client.chat.completions.create(model=name, messages=[{"role": "user", "content": "hi"}], max_tokens=8)
    assert answer.choices[0].message.content == f"{component.removesuffix('-ic').split('-')[0]} here"
    (request,) = routed.requests
    assert request["inference_component"] == component
    if component in SERVED:  # vLLM is sent the served name (the adapter's own, for an adapter component)
        assert request["payload"]["model"] == SERVED[component]


def test_streamed_completions_reach_their_component(routed: Emulator, client: openai.OpenAI) -> None:
    chunks = client.completions.create(model="support-bot", prompt="Hello", max_tokens=8, stream=True)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "support here"
    assert [r["inference_component"] for r in routed.requests] == ["support-bot-ic"]


def test_responses_reach_the_named_model(routed: Emulator, client: openai.OpenAI) -> None:
    response = client.responses.create(model="support-bot", input="hi", max_output_tokens=16)
    assert (response.model, response.output_text) == ("support-bot", "support here")
    assert [r["inference_component"] for r in routed.requests] == ["support-bot-ic"]


def test_generate_goes_to_the_first_chat_model(routed: Emulator, http_models: httpx.Client) -> None:
    answer = http_models.post("/generate", json={"inputs": "Hi", "parameters": {"max_new_tokens": 8}})
    assert answer.status_code == 200, answer.text
    assert [r["inference_component"] for r in routed.requests] == ["qwen-ic"]


def test_an_unknown_model_is_model_not_found(routed: Emulator, client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    error = caught.value.body
    assert isinstance(error, dict)
    assert (error["code"], error["param"], error["type"]) == ("model_not_found", "model", "invalid_request_error")
    assert "'qwen-chat'" in error["message"] and "'bge-small'" in error["message"]
    assert routed.requests == []


def test_models_lists_every_model_with_its_kind(client: openai.OpenAI) -> None:
    cards = {card.id: card.model_dump() for card in client.models.list()}
    assert list(cards) == list(ROUTES)
    assert {name: card["kind"] for name, card in cards.items()} == {n: r["kind"] for n, r in ROUTES.items()}
    assert cards["qwen"]["root"] == "qwen-chat" and cards["qwen"]["max_model_len"] == 4096
    assert cards["support-bot"]["parent"] == "qwen-chat"
    assert (cards["falcon"]["owned_by"], cards["bge-small"]["owned_by"]) == ("sagemaker", "vllm")
    assert client.models.retrieve("bge-small").model_dump()["kind"] == "embedding"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("nope")


def test_embeddings_as_floats(routed: Emulator, client: openai.OpenAI) -> None:
    answer = client.embeddings.create(model="bge-small", input=["red apple", "green"], encoding_format="float")
    assert [e.index for e in answer.data] == [0, 1]
    assert all(len(e.embedding) == 8 and all(isinstance(x, float) for x in e.embedding) for e in answer.data)
    assert answer.model == "bge-small"
    assert answer.usage.prompt_tokens == answer.usage.total_tokens == (2 + 2) + (1 + 2)
    (request,) = routed.requests
    assert request["inference_component"] == "bge-ic"
    assert request["payload"] == {"model": "bge-small", "input": ["red apple", "green"], "encoding_format": "float"}


def test_embeddings_as_base64_decoded_by_the_client(routed: Emulator, client: openai.OpenAI) -> None:
    as_floats = client.embeddings.create(model="bge-small", input="one two three", encoding_format="float")
    # The openai client asks for base64 when no format is given, and decodes it back to floats.
    decoded = client.embeddings.create(model="bge-small", input="one two three")
    assert routed.requests[-1]["payload"]["encoding_format"] == "base64"
    assert decoded.data[0].embedding == pytest.approx(as_floats.data[0].embedding, abs=1e-6)


def test_embeddings_answers_conform_to_openais_schema(routed: Emulator, http_models: httpx.Client) -> None:
    # Floats only: the spec types `embedding` as an array even for base64, which OpenAI's API answers as a string
    # (the openai client decodes that string: test_embeddings_as_base64_decoded_by_the_client).
    body = {"model": "bge-small", "input": ["a", "b c"], "encoding_format": "float"}
    answer = http_models.post("/v1/embeddings", json=body)
    assert answer.status_code == 200, answer.text
    assert_conforms("CreateEmbeddingResponse", answer.json())
    assert_conforms("CreateEmbeddingRequest", body)


def test_token_id_inputs(routed: Emulator, client: openai.OpenAI) -> None:
    answer = client.embeddings.create(model="bge-small", input=[[1, 2, 3], [4]], encoding_format="float")
    assert len(answer.data) == 2
    assert routed.requests[-1]["payload"]["input"] == [[1, 2, 3], [4]]


def test_dimensions_on_a_model_without_matryoshka_is_the_engines_400(routed: Emulator, client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="Matryoshka"):
        client.embeddings.create(model="bge-small", input="hi", dimensions=4)


def test_dimensions_on_a_matryoshka_model(emulator: Emulator, client: openai.OpenAI) -> None:
    emulator.set_scenario(components={"bge-ic": {"engine": "vllm", "pooling": True, "matryoshka": True}})
    answer = client.embeddings.create(model="bge-small", input="hi", dimensions=4, encoding_format="float")
    assert len(answer.data[0].embedding) == 4
    assert emulator.requests[-1]["payload"]["dimensions"] == 4


BAD_EMBEDDINGS: dict[str, tuple[dict[str, Any], int, str]] = {
    "empty list": ({"input": []}, 400, "input"),
    "10,000 inputs": ({"input": ["x"] * 10_000}, 400, "input"),
    "2,049 inputs": ({"input": [1] * 2049}, 400, "input"),
    "empty string": ({"input": ""}, 400, "input"),
    "empty string in a list": ({"input": ["a", ""]}, 400, "input"),
    "a number": ({"input": 12}, 400, "input"),
    "an object": ({"input": {"text": "a"}}, 400, "input"),
    "floats": ({"input": [1.5, 2.5]}, 400, "input"),
    "booleans": ({"input": [True]}, 400, "input"),
    "negative token id": ({"input": [-1]}, 400, "input"),
    "mixed list": ({"input": ["a", 1]}, 400, "input"),
    "empty token list": ({"input": [[]]}, 400, "input"),
    "strings in token lists": ({"input": [["a"]]}, 400, "input"),
    "missing input": ({}, 400, "input"),
    "bad encoding_format": ({"input": "a", "encoding_format": "bytes"}, 400, "encoding_format"),
    "zero dimensions": ({"input": "a", "dimensions": 0}, 400, "dimensions"),
    "unknown field": ({"input": "a", "tempreature": 1}, 400, "tempreature"),
    "a chat model": ({"input": "a", "model": "qwen"}, 400, "model"),
    "an unknown model": ({"input": "a", "model": "text-embedding-3-small"}, 404, "model"),
}


@pytest.mark.parametrize("case", sorted(BAD_EMBEDDINGS))
def test_bad_embeddings_requests_are_4xx_naming_the_field(
    routed: Emulator, http_models: httpx.Client, case: str
) -> None:
    body, status, param = BAD_EMBEDDINGS[case]
    answer = http_models.post("/v1/embeddings", json={"model": "bge-small", **body})
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["param"] == param and error["message"]
    assert routed.requests == []


def test_an_embedding_model_asked_to_chat_is_a_400(routed: Emulator, client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="embedding model") as caught:
        client.chat.completions.create(model="bge-small", messages=[{"role": "user", "content": "hi"}])
    assert isinstance(caught.value.body, dict) and caught.value.body["code"] == "model_not_supported"
    assert routed.requests == []


def test_metering_carries_the_routed_model(
    routed: Emulator, client: openai.OpenAI, models_app: tuple[str, Path]
) -> None:
    log = models_app[1]
    before = len(emf_records(log))
    client.chat.completions.create(model="support-bot", messages=[{"role": "user", "content": "hi"}], max_tokens=8)
    client.embeddings.create(model="bge-small", input=["a b c"], encoding_format="float")
    records = wait_for(lambda: emf_records(log)[before:] if len(emf_records(log)) >= before + 2 else None, 10, "EMF")
    assert [(r["Model"], r["PromptTokens"]) for r in records][-1] == ("bge-small", [5])
    assert records[0]["Model"] == "support-bot"
    assert records[-1]["CompletionTokens"] == [0]
    finished = [json.loads(line) for line in log.read_text().splitlines() if '"call finished"' in line]
    assert [(f["route"], f["model"]) for f in finished[-2:]] == [("chat", "support-bot"), ("embeddings", "bge-small")]


def test_without_model_routes_embeddings_say_what_is_served(emulator: Emulator, http: httpx.Client) -> None:
    """Today's single-model deployment: /v1/embeddings is routed but its one model is a chat model."""
    chat_model = http.post("/v1/embeddings", json={"model": MODEL_ID, "input": "hi"})
    assert chat_model.status_code == 400
    assert chat_model.json()["error"]["code"] == "model_not_supported"
    assert "no embedding model is deployed here" in chat_model.json()["error"]["message"]
    unknown = http.post("/v1/embeddings", json={"model": "bge-small", "input": "hi"})
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "model_not_found")
    assert emulator.requests == []


def test_a_bad_model_map_stops_the_app_naming_the_entry(session_emulator: Emulator, tmp_path: Path) -> None:
    routes = {**ROUTES, "broken": {"component": "b-ic", "kind": "rerank", "engine": "vllm"}}
    env = app_env(session_emulator.url, MODEL_ROUTES=json.dumps(routes))
    with pytest.raises(RuntimeError, match=r"MODEL_ROUTES\['broken'\]: kind"):
        start_app(env, tmp_path / "app.log")
