"""Property-based fuzzing of the published OpenAPI schema: whatever the input, never a 5xx.

Hypothesis strategies from schemathesis drive the in-process app (the pytest plugin of schemathesis 4.32 does not
support pytest 9). The backend is the emulator, so schema-valid requests run the whole path.
"""

from __future__ import annotations

import json

import boto3
import pytest
import schemathesis
from chatapi.app import create_app
from chatapi.backend import SageMakerBackend
from chatapi.settings import load_settings
from hypothesis import HealthCheck, example, given, settings
from sagemaker_runtime_emulator import Emulator

OPERATIONS = [
    "GET /health",
    "GET /v1/models",
    "GET /v1/models/{model}",
    "POST /v1/chat/completions",
    "POST /v1/completions",
    "POST /v1/embeddings",
    "POST /v1/responses",
    "GET /v1/responses/{response_id}",
    "DELETE /v1/responses/{response_id}",
    "POST /generate",
    "GET /",
]


# The id the fuzzed apps serve (no MODEL_ID set: the default GET /v1/models lists).
SERVED_MODEL = load_settings({"SAGEMAKER_ENDPOINT_NAME": "fuzz"}).model_id


def _schema(emulator: Emulator, **env: str):  # type: ignore[no-untyped-def]
    client = boto3.client(
        "sagemaker-runtime",
        endpoint_url=emulator.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    app = create_app(load_settings({"SAGEMAKER_ENDPOINT_NAME": "fuzz", **env}), SageMakerBackend(client, "fuzz"))
    # The app does not serve /openapi.json (API Gateway routes only the API): its schema is read in process.
    schema = schemathesis.openapi.from_dict(app.openapi())
    schema.app = app
    return schema


def _assert_no_server_error(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def _call_as_generated_and_with_the_served_model(case) -> None:  # type: ignore[no-untyped-def]
    """A generated `model` is almost never one the deployment serves, so most bodies would stop at the 404 and the
    deeper path (policy, engine translation, the backend) would be fuzzed by luck; each body with a `model` is sent
    again naming the served model, so every generated shape reaches that path."""
    _assert_no_server_error(case.call())
    if isinstance(case.body, dict) and "model" in case.body:
        case.body = {**case.body, "model": SERVED_MODEL}
        _assert_no_server_error(case.call())


# One plain valid body per model route, run before the generated ones: the deep path (policy, engine translation,
# the backend) is fuzzed by the generated bodies sent with the served model, and reached at least by these.
VALID_BODIES = {
    "/v1/chat/completions": {"model": SERVED_MODEL, "messages": [{"role": "user", "content": "Hi"}]},
    "/v1/completions": {"model": SERVED_MODEL, "prompt": "Hi"},
    "/v1/responses": {"model": SERVED_MODEL, "input": "Hi"},
    "/generate": {"inputs": "Hi"},
}


def _fuzz(schema, method: str, path: str) -> None:  # type: ignore[no-untyped-def]
    operation = schema[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    def check(case) -> None:  # type: ignore[no-untyped-def]
        _call_as_generated_and_with_the_served_model(case)

    if path in VALID_BODIES:
        check = example(case=operation.Case(body=VALID_BODIES[path], media_type="application/json"))(check)
    check()


@pytest.fixture(scope="module")
def fuzz_schema(session_emulator: Emulator):  # type: ignore[no-untyped-def]
    return _schema(session_emulator)


@pytest.fixture(scope="module")
def vllm_server_schema(session_emulator: Emulator):  # type: ignore[no-untyped-def]
    return _schema(session_emulator, ENGINE="vllm", PROMPT_FAMILY="server")


def test_schema_publishes_every_route(fuzz_schema) -> None:  # type: ignore[no-untyped-def]
    found = {f"{op.ok().method.upper()} {op.ok().path}" for op in fuzz_schema.get_all_operations()}
    assert found == set(OPERATIONS)


# Embeddings need an embedding model in MODEL_ROUTES to reach the backend: test_no_server_errors_on_embeddings.
@pytest.mark.parametrize("operation", [op for op in OPERATIONS if op != "POST /v1/embeddings"])
def test_no_server_errors(fuzz_schema, emulator: Emulator, operation: str) -> None:  # type: ignore[no-untyped-def]
    method, path = operation.split(" ")
    _fuzz(fuzz_schema, method, path)
    if method == "POST":
        assert emulator.requests, "no request reached the backend"


@pytest.mark.parametrize(
    "operation", ["POST /v1/chat/completions", "POST /v1/completions", "POST /v1/responses", "POST /generate"]
)
def test_no_server_errors_on_vllm_with_server_templates(  # type: ignore[no-untyped-def]
    vllm_server_schema, emulator: Emulator, operation: str
) -> None:
    emulator.set_scenario(engine="vllm")
    method, path = operation.split(" ")
    _fuzz(vllm_server_schema, method, path)
    assert emulator.requests, "no request reached the backend"


@pytest.fixture(scope="module")
def embeddings_schema(session_emulator: Emulator):  # type: ignore[no-untyped-def]
    routes = {
        "chat": {"component": "chat-ic", "kind": "chat", "engine": "vllm"},
        "emb": {"component": "emb-ic", "kind": "embedding", "engine": "vllm"},
    }
    return _schema(session_emulator, MODEL_ROUTES=json.dumps(routes))


def test_no_server_errors_on_embeddings(embeddings_schema, emulator: Emulator) -> None:  # type: ignore[no-untyped-def]
    emulator.set_scenario(components={"emb-ic": {"engine": "vllm", "pooling": True}})
    strategy = embeddings_schema["/v1/embeddings"]["POST"].as_strategy()

    @given(case=strategy)
    @settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    def check(case) -> None:  # type: ignore[no-untyped-def]
        if isinstance(case.body, dict):
            case.body["model"] = "emb"  # a generated name is almost never served: 404 before any validation
        response = case.call()
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            assert set(response.json()["error"]) == {"message", "type", "param", "code"}

    check()
    assert {r["inference_component"] for r in emulator.requests} == {"emb-ic"}
