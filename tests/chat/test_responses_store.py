"""Stored responses (``RESPONSES_TABLE_NAME``) against moto's DynamoDB over HTTP: the app process as ``make dev``
runs it behind API Gateway's IAM auth (``CALLER_IDENTITY=iam``, the caller in ``x-amzn-request-context``)."""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from chat_harness import app_env, free_port, start_app
from moto.server import ThreadedMotoServer
from openai_schema import assert_conforms, response_events
from sagemaker_runtime_emulator import Emulator
from test_chat_metering import value
from usage_harness import context_header, emf_for

TABLE = "responses"
REGION = "us-east-1"
ALICE = context_header(user_arn="arn:aws:iam::123456789012:user/alice")
BOB = context_header(user_arn="arn:aws:iam::123456789012:user/bob")
ALICE_OTHER_SESSION = context_header(user_arn="arn:aws:sts::123456789012:assumed-role/Alice/session-2")
ALICE_ROLE = context_header(user_arn="arn:aws:sts::123456789012:assumed-role/Alice/session-1")


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[Any]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    client = boto3.client(
        "dynamodb",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    yield client
    server.stop()


@pytest.fixture(scope="module")
def app(
    session_emulator: Emulator, dynamodb: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Any]]:
    env = app_env(
        session_emulator.url,
        CALLER_IDENTITY="iam",
        RESPONSES_TABLE_NAME=TABLE,
        RESPONSES_TTL_DAYS="7",
        AWS_ENDPOINT_URL_DYNAMODB=dynamodb.meta.endpoint_url,
        PROMPT_FAMILY="server",
        ENGINE="vllm",
    )
    log = tmp_path_factory.mktemp("responses-store") / "app.log"
    proc, url = start_app(env, log)
    yield url, log
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def http(app: tuple[str, Any], session_emulator: Emulator) -> Iterator[httpx.Client]:
    from chat_harness import MODEL_ID

    session_emulator.set_scenario(engine="vllm", served_model_name=MODEL_ID)
    with httpx.Client(base_url=app[0], timeout=15) as client:
        yield client


def create(http: httpx.Client, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = http.post("/v1/responses", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_stored_response_is_read_back_by_its_caller_only(http: httpx.Client, dynamodb: Any) -> None:
    first = create(http, ALICE, input="Remember 42.", metadata={"t": "1"})
    assert first["store"] is True
    read = http.get(f"/v1/responses/{first['id']}", headers=ALICE)
    assert read.status_code == 200
    assert read.json() == first
    assert_conforms("Response", read.json())
    for other in (BOB, {}):
        denied = http.get(f"/v1/responses/{first['id']}", headers=other)
        assert denied.status_code == 404
        assert denied.json()["error"]["code"] == "response_not_found"
        assert_conforms("ErrorResponse", denied.json())
    (item,) = [i for i in dynamodb.scan(TableName=TABLE)["Items"] if i["pk"]["S"].endswith(first["id"])]
    assert item["pk"]["S"] == f"arn:aws:iam::123456789012:user/alice#{first['id']}"
    assert 6 * 86400 < int(item["expires_at"]["N"]) - time.time() <= 7 * 86400
    assert b"Remember 42." not in item["data"]["B"]  # compressed; the pk is the only clear text
    assert json.loads(zlib.decompress(item["data"]["B"]))["response"]["id"] == first["id"]


def test_previous_response_id_continues_the_conversation(http: httpx.Client, session_emulator: Emulator) -> None:
    first = create(http, ALICE, input="My name is Ada.", instructions="Be brief.")
    second = create(http, ALICE, input="What is my name?", previous_response_id=first["id"])
    assert second["previous_response_id"] == first["id"]
    messages = session_emulator.requests[-1]["payload"]["messages"]
    # Instructions are not carried over (as OpenAI does); the earlier input and output are.
    assert messages == [
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": first["output"][0]["content"][0]["text"]},
        {"role": "user", "content": "What is my name?"},
    ]
    third = create(http, ALICE, input="And again?", previous_response_id=second["id"])
    assert len(session_emulator.requests[-1]["payload"]["messages"]) == 5
    assert third["status"] == "completed"


def test_another_caller_cannot_continue_or_delete(http: httpx.Client, session_emulator: Emulator) -> None:
    first = create(http, ALICE, input="secret")
    before = len(session_emulator.requests)
    refused = http.post("/v1/responses", json={"input": "tell me", "previous_response_id": first["id"]}, headers=BOB)
    assert refused.status_code == 404
    assert refused.json()["error"]["param"] == "previous_response_id"
    assert len(session_emulator.requests) == before  # the model was never asked
    assert http.delete(f"/v1/responses/{first['id']}", headers=BOB).status_code == 404
    assert http.get(f"/v1/responses/{first['id']}", headers=ALICE).status_code == 200


def test_sessions_of_one_role_are_one_caller(http: httpx.Client) -> None:
    first = create(http, ALICE_ROLE, input="x")
    assert http.get(f"/v1/responses/{first['id']}", headers=ALICE_OTHER_SESSION).status_code == 200


def test_delete(http: httpx.Client) -> None:
    first = create(http, ALICE, input="x")
    deleted = http.delete(f"/v1/responses/{first['id']}", headers=ALICE)
    assert deleted.json() == {"id": first["id"], "object": "response", "deleted": True}
    assert http.get(f"/v1/responses/{first['id']}", headers=ALICE).status_code == 404
    assert http.delete(f"/v1/responses/{first['id']}", headers=ALICE).status_code == 404


def test_store_false_is_not_kept(http: httpx.Client) -> None:
    first = create(http, ALICE, input="x", store=False)
    assert first["store"] is False
    assert http.get(f"/v1/responses/{first['id']}", headers=ALICE).status_code == 404


def test_a_streamed_response_is_stored(http: httpx.Client) -> None:
    with http.stream("POST", "/v1/responses", json={"input": "x", "stream": True}, headers=ALICE) as response:
        text = ""
        for chunk in response.iter_text():
            text += chunk
            if "response.completed" in text:
                final_id = json.loads(text.split("data: ")[-1].split("\n")[0])["response"]["id"]
                assert http.get(f"/v1/responses/{final_id}", headers=ALICE).status_code == 200
    events = response_events(text)
    assert events[-1]["response"]["store"] is True


def test_function_call_round_trip_through_previous_response_id(http: httpx.Client, session_emulator: Emulator) -> None:
    from chat_harness import MODEL_ID

    tool = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}
    session_emulator.set_scenario(
        engine="vllm", served_model_name=MODEL_ID, tool_calls=[{"name": "get_weather", "arguments": "{}"}]
    )
    first = create(http, ALICE, input="Weather?", tools=[tool])
    call = next(i for i in first["output"] if i["type"] == "function_call")
    session_emulator.set_scenario(engine="vllm", served_model_name=MODEL_ID)
    output = {"type": "function_call_output", "call_id": call["call_id"], "output": "sunny"}
    second = create(http, ALICE, input=[output], tools=[tool], previous_response_id=first["id"])
    assert second["status"] == "completed"
    messages = session_emulator.requests[-1]["payload"]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]
    assert messages[1]["tool_calls"][0]["id"] == call["call_id"]


def test_responses_are_metered_to_the_caller(http: httpx.Client, app: tuple[str, Any]) -> None:
    caller = "arn:aws:iam::123456789012:user/metered"
    create(http, context_header(user_arn=caller), input="x")
    (record,) = emf_for(app[1], caller)
    assert value(record, "Requests") == 1
    assert value(record, "CompletionTokens") > 0


def test_the_dynamodb_client_is_made_on_first_use_not_at_start_up(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A cold start that serves only chat completions must not pay for DynamoDB's client (bench/bench_runtime.py).
    import botocore.session
    from chatapi import responses_store
    from chatapi.errors import ApiError

    made: list[str] = []
    real = botocore.session.Session.create_client

    def counting(self: Any, service_name: str, *args: Any, **kwargs: Any) -> Any:
        made.append(service_name)
        return real(self, service_name, *args, **kwargs)

    monkeypatch.setattr(botocore.session.Session, "create_client", counting)
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.meta.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")

    store = responses_store.ResponseStore.from_settings(responses_store.StoreSettings(TABLE), region=REGION)
    assert store is not None
    assert made == []

    for _ in range(2):
        with pytest.raises(ApiError) as missing:
            store.get("arn:aws:iam::123456789012:user/alice", "resp_" + "0" * 32)
        assert missing.value.status == 404
    assert made == ["dynamodb"]
