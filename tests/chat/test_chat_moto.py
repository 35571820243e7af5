"""Non-stream InvokeEndpoint through moto's SageMaker runtime (results queued via its moto-api).

The proxy streams every generation (SageMaker allows InvokeEndpoint 60 s, a stream 8 minutes), which moto does not
implement; what still uses InvokeEndpoint is TGI's ``/generate`` with ``decoder_input_details`` or ``best_of``,
which TGI refuses on a stream."""

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

# A bound for a hung server, not a timing assertion: generous for a loaded 2-core machine.
HTTP_TIMEOUT = 120.0


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
    httpx.post(
        f"{moto_url}/moto-api/static/sagemaker/endpoint-results", json={"results": results}, timeout=HTTP_TIMEOUT
    ).raise_for_status()


def test_generate_through_moto_returns_the_predict_shape(moto_url: str, moto_app: TestClient) -> None:
    queue(moto_url, [{"generated_text": " Amazon SageMaker is a fully managed platform."}])
    parameters = {"max_new_tokens": 32, "decoder_input_details": True}
    response = moto_app.post("/generate", json={"inputs": "moto generate", "parameters": parameters})
    assert response.status_code == 200
    assert response.json() == [{"generated_text": " Amazon SageMaker is a fully managed platform."}]


def test_best_of_through_moto_keeps_the_details_asked_for(moto_url: str, moto_app: TestClient) -> None:
    answer = [
        {
            "generated_text": " Use the free tier.",
            "details": {"finish_reason": "eos_token", "generated_tokens": 6, "prefill": [], "best_of_sequences": []},
        }
    ]
    queue(moto_url, answer)
    parameters = {"best_of": 2, "do_sample": True, "details": True}
    response = moto_app.post("/generate", json={"inputs": "moto best of", "parameters": parameters})
    assert response.status_code == 200
    assert response.json() == answer
