"""Non-stream InvokeEndpoint through moto's SageMaker runtime (results queued via its moto-api)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import httpx
import pytest
from chat_harness import free_port
from chatapi.app import create_app
from chatapi.backend import SageMakerBackend
from chatapi.settings import load_settings
from fastapi.testclient import TestClient
from moto.server import ThreadedMotoServer


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def moto_app(moto_url: str) -> Iterator[TestClient]:
    client = boto3.client(
        "sagemaker-runtime",
        endpoint_url=moto_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    settings = load_settings({"SAGEMAKER_ENDPOINT_NAME": "moto-endpoint", "MODEL_ID": "falcon-moto"})
    with TestClient(create_app(settings, SageMakerBackend(client, settings.endpoint_name))) as test_client:
        yield test_client


def queue(moto_url: str, *bodies: object) -> None:
    results = [{"Body": json.dumps(b), "ContentType": "application/json"} for b in bodies]
    httpx.post(f"{moto_url}/moto-api/static/sagemaker/endpoint-results", json={"results": results}).raise_for_status()


def test_generate_through_moto_returns_the_predict_shape(moto_url: str, moto_app: TestClient) -> None:
    queue(moto_url, [{"generated_text": " Amazon SageMaker is a fully managed platform."}])
    response = moto_app.post("/generate", json={"inputs": "moto generate", "parameters": {"max_new_tokens": 32}})
    assert response.status_code == 200
    assert response.json() == [{"generated_text": " Amazon SageMaker is a fully managed platform."}]


def test_chat_through_moto_strips_stop_and_leading_space(moto_url: str, moto_app: TestClient) -> None:
    answer = [
        {
            "generated_text": " Use the free tier.\nUser:",
            "details": {"finish_reason": "stop_sequence", "generated_tokens": 6, "prefill": []},
        }
    ]
    queue(moto_url, answer)
    response = moto_app.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "moto chat"}]})
    body = response.json()
    assert body["choices"][0]["message"]["content"] == "Use the free tier."
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["model"] == "falcon-moto"
    assert "usage" not in body  # no prefill tokens reported: usage is omitted, not invented
