"""Request ids behind the Lambda Web Adapter: API Gateway's ``requestId`` from ``x-amzn-request-context`` is the
request id, the Lambda request id from ``x-amzn-lambda-context`` is logged too, and a malformed header only
means falling back (headers shaped as LWA sends them for an API Gateway REST API)."""

from __future__ import annotations

import io
import json
import logging
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from chatapi.app import create_app
from chatapi.app import logger as app_logger
from chatapi.request_ids import MAX_CONTEXT_HEADER_BYTES
from chatapi.settings import load_settings
from fastapi.testclient import TestClient
from sagemaker_runtime_emulator import Emulator

APIGW_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
LAMBDA_ID = "52fdfc07-2182-154f-163f-5f0f9a621d72"
USER = [{"role": "user", "content": "Hi"}]


def request_context(**overrides: Any) -> str:
    """What LWA forwards for an API Gateway REST API (the proxy event's requestContext)."""
    context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "1234567890",
        "domainName": "1234567890.execute-api.us-east-1.amazonaws.com",
        "httpMethod": "POST",
        "identity": {"sourceIp": "203.0.113.7", "userArn": "arn:aws:iam::123456789012:user/alice", "userAgent": "x"},
        "path": "/prod/v1/chat/completions",
        "protocol": "HTTP/1.1",
        "requestId": APIGW_ID,
        "requestTimeEpoch": 1700000000000,
        "resourcePath": "/{proxy+}",
        "stage": "prod",
    }
    context.update(overrides)
    return json.dumps(context)


def lambda_context(**overrides: Any) -> str:
    """What LWA forwards as the Lambda context."""
    context: dict[str, Any] = {
        "request_id": LAMBDA_ID,
        "deadline": 1700000900000,
        "invoked_function_arn": "arn:aws:lambda:us-east-1:123456789012:function:chat",
        "xray_trace_id": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        "env_config": {"function_name": "chat", "memory": 512, "version": "$LATEST", "log_stream": "", "log_group": ""},
    }
    context.update(overrides)
    return json.dumps(context)


def lwa_headers(request: str | None = None, lam: str | None = None, **extra: str) -> dict[str, str]:
    return {
        "x-amzn-request-context": request_context() if request is None else request,
        "x-amzn-lambda-context": lambda_context() if lam is None else lam,
        **extra,
    }


def records_for(log: Path, request_id: str, message: str) -> list[dict[str, Any]]:
    """The app's JSON log lines of ``request_id`` with ``message``, waiting (bounded) for at least one."""
    deadline = time.monotonic() + 5
    while True:
        lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
        found = [r for r in lines if r.get("request_id") == request_id and r.get("message") == message]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def test_api_gateway_request_id_is_the_request_id(http: httpx.Client) -> None:
    assert http.get("/health", headers=lwa_headers()).headers["x-request-id"] == APIGW_ID


def test_api_gateway_request_id_wins_over_a_client_request_id(http: httpx.Client) -> None:
    response = http.get("/health", headers=lwa_headers(**{"x-request-id": "client-chosen"}))
    assert response.headers["x-request-id"] == APIGW_ID


def test_access_log_line_carries_both_aws_request_ids(http: httpx.Client, app_log: Path, emulator: Emulator) -> None:
    http.post(
        "/v1/chat/completions", json={"messages": USER}, headers=lwa_headers(request=request_context(requestId="ids-1"))
    )
    (record,) = records_for(app_log, "ids-1", "request")
    assert (record["apigw_request_id"], record["lambda_request_id"], record["status"]) == ("ids-1", LAMBDA_ID, 200)


def test_stream_log_line_carries_both_aws_request_ids(http: httpx.Client, app_log: Path, emulator: Emulator) -> None:
    body = {"messages": USER, "stream": True}
    response = http.post(
        "/v1/chat/completions", json=body, headers=lwa_headers(request=request_context(requestId="ids-2"))
    )
    assert response.text.endswith("data: [DONE]\n\n")
    (record,) = records_for(app_log, "ids-2", "stream finished")
    assert (record["apigw_request_id"], record["lambda_request_id"]) == ("ids-2", LAMBDA_ID)


def test_without_lwa_headers_logs_have_no_aws_request_ids(http: httpx.Client, app_log: Path) -> None:
    http.get("/health", headers={"x-request-id": "plain-1"})
    (record,) = records_for(app_log, "plain-1", "request")
    assert "apigw_request_id" not in record
    assert "lambda_request_id" not in record


def test_aws_request_ids_do_not_leak_into_the_next_request(http: httpx.Client, app_log: Path) -> None:
    http.get("/health", headers=lwa_headers(request=request_context(requestId="ids-3")))
    http.get("/health", headers={"x-request-id": "plain-2"})
    (record,) = records_for(app_log, "plain-2", "request")
    assert "apigw_request_id" not in record
    assert "lambda_request_id" not in record


def _oversized() -> str:
    return request_context(requestId="too-big", padding="x" * MAX_CONTEXT_HEADER_BYTES)


BAD_REQUEST_CONTEXTS = {
    "not json": "{requestId: nope",
    "json array": json.dumps([{"requestId": "in-array"}]),
    "json string": json.dumps("requestId"),
    "json null": "null",
    "id is a number": request_context(requestId=12345),
    "id is null": request_context(requestId=None),
    "id is an object": request_context(requestId={"id": "x"}),
    "id is empty": request_context(requestId=""),
    "id has unsafe characters": request_context(requestId="evil\\nid with spaces"),
    "id is too long": request_context(requestId="a" * 129),
    "nested too deep": '{"requestId": "deep", "x": ' + "[" * 5000 + "]" * 5000 + "}",
    "oversized": _oversized(),
}


@pytest.mark.parametrize("header", BAD_REQUEST_CONTEXTS.values(), ids=BAD_REQUEST_CONTEXTS.keys())
def test_malformed_request_context_falls_back_to_the_client_request_id(http: httpx.Client, header: str) -> None:
    response = http.get("/health", headers=lwa_headers(request=header, **{"x-request-id": "fallback-1"}))
    assert (response.status_code, response.headers["x-request-id"]) == (200, "fallback-1")


def test_malformed_request_context_without_a_client_id_gets_a_fresh_one(http: httpx.Client) -> None:
    response = http.get("/health", headers=lwa_headers(request="not json"))
    assert response.status_code == 200
    assert len(response.headers["x-request-id"]) == 32


def test_request_context_that_is_not_utf8_falls_back(http: httpx.Client) -> None:
    raw = b'{"requestId": "\xff\xfe"}'
    response = http.get("/health", headers=[(b"x-amzn-request-context", raw), (b"x-request-id", b"fallback-2")])
    assert (response.status_code, response.headers["x-request-id"]) == (200, "fallback-2")


BAD_LAMBDA_CONTEXTS = {
    "not json": "][",
    "json array": "[]",
    "id is a number": lambda_context(request_id=7),
    "id has unsafe characters": lambda_context(request_id="a b"),
    "nested too deep": "[" * 5000 + "]" * 5000,
}


@pytest.mark.parametrize(("name", "header"), BAD_LAMBDA_CONTEXTS.items(), ids=BAD_LAMBDA_CONTEXTS.keys())
def test_malformed_lambda_context_is_left_out_of_the_logs(
    http: httpx.Client, app_log: Path, emulator: Emulator, name: str, header: str
) -> None:
    request_id = "lam-" + name.replace(" ", "-")
    response = http.post(
        "/v1/chat/completions",
        json={"messages": USER},
        headers=lwa_headers(request=request_context(requestId=request_id), lam=header),
    )
    assert (response.status_code, response.headers["x-request-id"]) == (200, request_id)
    (record,) = records_for(app_log, request_id, "request")
    assert record["apigw_request_id"] == request_id
    assert "lambda_request_id" not in record


class EchoStream:
    def raw_events(self) -> Any:
        event = {"token": {"id": 1, "text": "Hello!", "logprob": None, "special": False}, "generated_text": "Hello!",
                 "details": {"finish_reason": "eos_token", "generated_tokens": 2}}  # fmt: skip
        yield json.dumps(event), event

    def close(self) -> None:
        return


class EchoBackend:
    def open_stream(self, payload: dict[str, Any]) -> Any:
        return EchoStream()


def test_prompt_log_lines_written_in_worker_threads_carry_the_request_ids() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(app_logger.registered_formatter)
    app_logger.addHandler(handler)
    try:
        settings = load_settings({"SAGEMAKER_ENDPOINT_NAME": "x", "LOG_PROMPTS": "true"})
        with TestClient(create_app(settings, EchoBackend())) as client:  # type: ignore[arg-type]
            client.post("/v1/chat/completions", json={"messages": USER}, headers=lwa_headers())
    finally:
        app_logger.removeHandler(handler)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    prompts = [r for r in lines if r["message"] in ("prompt", "completion")]
    assert len(prompts) == 2
    assert {(r["request_id"], r["apigw_request_id"], r["lambda_request_id"]) for r in prompts} == {
        (APIGW_ID, APIGW_ID, LAMBDA_ID)
    }


@pytest.mark.parametrize("value", [b"abc\n", b"abc\r\n", b"\nabc", b"abc\x00"])
def test_an_id_with_a_line_break_is_not_taken(value: bytes) -> None:
    from chatapi.request_ids import resolve

    ids = resolve({b"x-request-id": value, b"x-amzn-request-context": b'{"requestId": "' + value.strip() + b'\\n"}'})
    assert ids.request_id != value.decode().strip()
    assert len(ids.request_id) == 32 and ids.apigw_request_id is None
