"""Per-caller limits against moto's DynamoDB: the conditional updates in-process with threads racing them and an
injected clock (``UsageLimits``), then end to end through the app (429 shape, slots released on stream end and
on client disconnect).

moto evaluates a ConditionExpression and applies the update in plain Python without a lock, so two threads can
interleave between the check and the write; DynamoDB applies each conditional write atomically per item
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/WorkingWithItems.html#WorkingWithItems.ConditionalUpdate).
``atomic_moto`` restores that guarantee so the races below test our conditions, not moto's threading.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from chat_harness import app_env, free_port, start_app
from chatapi.errors import ApiError
from chatapi.limits import (
    STREAM_LEASE_SECONDS,
    LimitsUnavailable,
    Reservation,
    UsageLimits,
    seconds_to_utc_midnight,
)
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend
from moto.server import ThreadedMotoServer
from sagemaker_runtime_emulator import Emulator
from usage_harness import context_header, wait_for

# A bound for a hung server, not a timing assertion: generous for a loaded 2-core machine.
HTTP_TIMEOUT = 120.0

TABLE = "usage-test"
REGION = "us-east-1"


@pytest.fixture(scope="module", autouse=True)
def atomic_moto() -> Iterator[None]:
    lock = threading.RLock()
    originals = {name: getattr(DynamoDBBackend, name) for name in ("update_item", "delete_item", "get_item")}

    def locked(original: Any) -> Any:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            with lock:
                return original(self, *args, **kwargs)

        return call

    for name, original in originals.items():
        setattr(DynamoDBBackend, name, locked(original))
    yield
    for name, original in originals.items():
        setattr(DynamoDBBackend, name, original)


def create_table(client: Any) -> None:
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


class Clock:
    def __init__(self, at: datetime) -> None:
        self.now = at.timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client(
            "dynamodb", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        create_table(client)
        yield client


def limits(client: Any, clock: Clock, *, budget: int | None = None, streams: int | None = None) -> UsageLimits:
    return UsageLimits(client, TABLE, daily_token_budget=budget, max_streams=streams, clock=clock)


NOON = datetime(2026, 3, 14, 12, 0, 0, tzinfo=UTC)


def test_racing_streams_of_one_caller_get_exactly_the_limit(dynamodb: Any) -> None:
    usage = limits(dynamodb, Clock(NOON), streams=3)
    barrier = threading.Barrier(12)

    def take(_: int) -> str:
        barrier.wait()
        try:
            usage.acquire_stream("alice")
        except ApiError as exc:
            assert (exc.status, exc.code) == (429, "too_many_concurrent_streams")
            return "refused"
        return "taken"

    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(take, range(12)))
    assert results.count("taken") == 3
    assert results.count("refused") == 9


def test_each_caller_has_its_own_stream_slots(dynamodb: Any) -> None:
    usage = limits(dynamodb, Clock(NOON), streams=1)
    usage.acquire_stream("alice")
    assert usage.acquire_stream("bob") is not None
    with pytest.raises(ApiError):
        usage.acquire_stream("alice")


def test_a_released_slot_can_be_taken_again(dynamodb: Any) -> None:
    usage = limits(dynamodb, Clock(NOON), streams=1)
    slot = usage.acquire_stream("alice")
    assert slot is not None
    usage.release_stream(slot)
    assert usage.acquire_stream("alice") is not None


def test_a_slot_never_released_frees_itself_when_its_lease_expires(dynamodb: Any) -> None:
    clock = Clock(NOON)
    usage = limits(dynamodb, clock, streams=1)
    crashed = usage.acquire_stream("alice")  # its Lambda dies: never released
    assert crashed is not None
    clock.now += STREAM_LEASE_SECONDS - 1
    with pytest.raises(ApiError):
        usage.acquire_stream("alice")
    clock.now += 2
    successor = usage.acquire_stream("alice")
    assert successor is not None
    # The crashed holder's late release must not free its successor's slot.
    usage.release_stream(crashed)
    with pytest.raises(ApiError):
        usage.acquire_stream("alice")


def test_stream_refusal_carries_retry_after(dynamodb: Any) -> None:
    usage = limits(dynamodb, Clock(NOON), streams=1)
    usage.acquire_stream("alice")
    with pytest.raises(ApiError) as info:
        usage.acquire_stream("alice")
    assert info.value.headers["Retry-After"].isdigit()
    assert info.value.type == "rate_limit_error"


def tokens_of(client: Any, caller: str, day: str = "2026-03-14") -> tuple[int, int]:
    item = client.get_item(TableName=TABLE, Key={"pk": {"S": f"tokens#{caller}#{day}"}})["Item"]
    return int(item["tokens"]["N"]), int(item["requests"]["N"])


def test_concurrent_reservations_never_pass_the_budget(dynamodb: Any) -> None:
    usage = limits(dynamodb, Clock(NOON), budget=60)
    barrier = threading.Barrier(10)

    def admit(_: int) -> Reservation | None:
        barrier.wait()
        try:
            return usage.reserve("alice", 25)
        except ApiError as exc:
            assert (exc.status, exc.code) == (429, "daily_token_budget_exceeded")
            return None

    with ThreadPoolExecutor(10) as pool:
        admitted = [r for r in pool.map(admit, range(10)) if r is not None]
    assert len(admitted) == 2  # 2 x 25 fit in 60; a third would make 75
    assert tokens_of(dynamodb, "alice") == (50, 2)
    for reservation in admitted:
        usage.settle(reservation, 30)  # each used more than the estimate said: the real count is charged
    assert tokens_of(dynamodb, "alice") == (60, 2)


def test_settling_gives_back_what_a_request_did_not_use(dynamodb: Any) -> None:
    usage = limits(dynamodb, Clock(NOON), budget=100)
    first = usage.reserve("alice", 80)
    with pytest.raises(ApiError) as info:
        usage.reserve("alice", 30)  # 80 reserved + 30 > 100, though nothing is used yet
    assert "does not fit in what is left of your daily budget of 100 tokens" in info.value.message
    assert first is not None
    usage.settle(first, 12)
    assert usage.reserve("alice", 80) is not None  # 12 + 80 <= 100
    assert tokens_of(dynamodb, "alice") == (92, 2)


def test_a_request_larger_than_the_whole_budget_is_a_400_naming_max_tokens(dynamodb: Any) -> None:
    with pytest.raises(ApiError) as info:
        limits(dynamodb, Clock(NOON), budget=100).reserve("alice", 101)
    assert (info.value.status, info.value.param, info.value.code) == (400, "max_tokens", "request_exceeds_token_budget")


def test_a_caller_over_budget_is_refused_and_others_are_not(dynamodb: Any) -> None:
    usage = limits(dynamodb, Clock(NOON), budget=100)
    reservation = usage.reserve("alice", 100)
    assert reservation is not None
    usage.settle(reservation, 100)
    with pytest.raises(ApiError) as info:
        usage.reserve("alice", 1)
    assert (info.value.status, info.value.code) == (429, "daily_token_budget_exceeded")
    assert info.value.headers == {"Retry-After": str(12 * 3600)}
    assert usage.reserve("bob", 100) is not None


def test_the_budget_resets_at_utc_midnight_and_a_late_settle_stays_on_its_day(dynamodb: Any) -> None:
    clock = Clock(datetime(2026, 3, 14, 23, 59, 50, tzinfo=UTC))
    usage = limits(dynamodb, clock, budget=10)
    reservation = usage.reserve("alice", 10)
    with pytest.raises(ApiError) as info:
        usage.reserve("alice", 1)
    assert info.value.headers["Retry-After"] == "10"
    clock.now += 15  # 00:00:05 the next day
    assert reservation is not None
    usage.settle(reservation, 4)  # the request admitted yesterday settles on yesterday's item
    assert usage.reserve("alice", 10) is not None
    assert tokens_of(dynamodb, "alice", "2026-03-14") == (4, 1)
    assert tokens_of(dynamodb, "alice", "2026-03-15") == (10, 1)
    # Yesterday's item carries a TTL: DynamoDB deletes it.
    old = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "tokens#alice#2026-03-14"}})["Item"]
    assert int(old["expires_at"]["N"]) > clock.now


def test_racing_requests_of_one_caller_get_exactly_the_request_limit(dynamodb: Any) -> None:
    usage = UsageLimits(dynamodb, TABLE, daily_token_budget=None, max_streams=None, max_requests=2, clock=Clock(NOON))
    barrier = threading.Barrier(8)

    def take(_: int) -> str:
        barrier.wait()
        try:
            usage.acquire_request("alice")
        except ApiError as exc:
            assert (exc.status, exc.code) == (429, "too_many_concurrent_requests")
            return "refused"
        return "taken"

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(take, range(8)))
    assert results.count("taken") == 2


def test_the_per_minute_rate_counts_each_request_and_resets_with_the_minute(dynamodb: Any) -> None:
    clock = Clock(NOON)
    usage = UsageLimits(dynamodb, TABLE, daily_token_budget=None, max_streams=None, requests_per_minute=3, clock=clock)
    barrier = threading.Barrier(6)

    def send(_: int) -> bool:
        barrier.wait()
        try:
            usage.count_request("alice")
        except ApiError as exc:
            assert (exc.status, exc.code) == (429, "too_many_requests_per_minute")
            assert exc.headers["Retry-After"] == "60"
            return False
        return True

    with ThreadPoolExecutor(6) as pool:
        assert sum(pool.map(send, range(6))) == 3
    usage.count_request("bob")
    clock.now += 59.5
    with pytest.raises(ApiError) as info:
        usage.count_request("alice")
    assert info.value.headers["Retry-After"] == "1"
    clock.now += 1
    usage.count_request("alice")


@pytest.mark.parametrize(
    ("at", "seconds"),
    [
        (datetime(2026, 3, 14, 0, 0, 0, tzinfo=UTC), 86400),
        (datetime(2026, 3, 14, 23, 59, 59, 500000, tzinfo=UTC), 1),
        (datetime(2026, 12, 31, 18, 0, 0, tzinfo=UTC), 6 * 3600),
    ],
)
def test_retry_after_is_the_seconds_to_utc_midnight(at: datetime, seconds: int) -> None:
    assert seconds_to_utc_midnight(at.timestamp()) == seconds


def test_an_unreachable_table_raises_limits_unavailable() -> None:
    client = boto3.client(
        "dynamodb",
        region_name=REGION,
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=boto3.session.Config(retries={"total_max_attempts": 1}, connect_timeout=1),
    )
    with pytest.raises(LimitsUnavailable):
        limits(client, Clock(NOON), budget=10).reserve("alice", 1)


# --- end to end: the app process, the SageMaker emulator and moto's DynamoDB over HTTP ---

BUDGET = 200
# Reserves its prompt's estimate (the rendered prompt's bytes plus template tokens: 49) plus max_tokens: 65.
CHAT = {"messages": [{"role": "user", "content": "Hi there"}], "max_tokens": 16}
RESERVED = 65
RATE = 30
TINY = {"inputs": "x", "parameters": {"max_new_tokens": 1}}  # reserves 26 tokens, uses 2


@pytest.fixture(scope="module")
def moto_dynamodb() -> Iterator[Any]:
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
    create_table(client)
    yield client
    server.stop()


@pytest.fixture(scope="module")
def limited_app(
    session_emulator: Emulator, moto_dynamodb: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    env = app_env(
        session_emulator.url,
        CALLER_IDENTITY="iam",
        USAGE_TABLE_NAME=TABLE,
        DAILY_TOKEN_BUDGET=str(BUDGET),
        MAX_STREAMS_PER_CALLER="1",
        MAX_REQUESTS_PER_CALLER="3",
        REQUESTS_PER_MINUTE_PER_CALLER=str(RATE),
        AWS_ENDPOINT_URL_DYNAMODB=moto_dynamodb.meta.endpoint_url,
    )
    proc, url = start_app(env, tmp_path_factory.mktemp("limited") / "app.log")
    yield url
    proc.terminate()
    proc.wait(10)


def user(name: str) -> str:
    return f"arn:aws:iam::123456789012:user/{name}"


def test_requests_are_admitted_while_their_reservation_fits_then_429(limited_app: str, emulator: Emulator) -> None:
    headers = context_header(user_arn=user("budget-e2e"))
    used = admitted = 0
    for _ in range(40):
        response = httpx.post(limited_app + "/v1/chat/completions", json=CHAT, headers=headers, timeout=HTTP_TIMEOUT)
        if response.status_code != 200:
            break
        used += response.json()["usage"]["total_tokens"]
        admitted += 1
    assert admitted >= 2
    assert used <= BUDGET < used + RESERVED  # refused exactly when the worst case no longer fits
    assert response.status_code == 429
    assert response.json() == {
        "error": {
            "message": response.json()["error"]["message"],
            "type": "rate_limit_error",
            "param": None,
            "code": "daily_token_budget_exceeded",
        }
    }
    assert f"daily budget of {BUDGET} tokens" in response.json()["error"]["message"]
    expected = seconds_to_utc_midnight(datetime.now(UTC).timestamp())
    assert abs(int(response.headers["retry-after"]) - expected) <= 5
    # The refused request never reached the model.
    assert len(emulator.requests) == admitted


def test_a_second_concurrent_stream_is_refused_until_the_first_ends(limited_app: str, emulator: Emulator) -> None:
    # 11 tokens over ~2 s: the first stream, the non-streamed request and the last stream stay under the budget.
    emulator.set_scenario(tokens=["word "] * 10, token_delay=0.2)
    headers = context_header(user_arn=user("streams-e2e"))
    body = {**CHAT, "stream": True}
    with httpx.Client(base_url=limited_app, timeout=15) as client:
        with client.stream("POST", "/v1/chat/completions", json=body, headers=headers) as first:
            assert first.status_code == 200
            second = httpx.post(limited_app + "/v1/chat/completions", json=body, headers=headers, timeout=HTTP_TIMEOUT)
            assert second.status_code == 429
            assert second.json()["error"]["code"] == "too_many_concurrent_streams"
            assert second.headers["retry-after"].isdigit()
            # Non-streamed requests are not stream-limited.
            assert (
                httpx.post(
                    limited_app + "/v1/chat/completions", json=CHAT, headers=headers, timeout=HTTP_TIMEOUT
                ).status_code
                == 200
            )
            first.read()
        assert first.text.endswith("data: [DONE]\n\n")
        again = client.post("/v1/chat/completions", json=body, headers=headers)
        assert again.status_code == 200, again.text


def test_a_client_that_disconnects_mid_stream_releases_its_slot(
    limited_app: str, emulator: Emulator, moto_dynamodb: Any
) -> None:
    emulator.set_scenario(tokens=["word "] * 200, token_delay=0.05)
    caller = user("disconnect-e2e")
    headers = context_header(user_arn=caller)
    body = {**CHAT, "stream": True}
    with httpx.Client(base_url=limited_app, timeout=15) as client:
        with client.stream("POST", "/v1/chat/completions", json=body, headers=headers) as response:
            assert response.status_code == 200
            slot = {"pk": {"S": f"streams#{caller}#0"}}
            assert "Item" in moto_dynamodb.get_item(TableName=TABLE, Key=slot)
            for line in response.iter_lines():
                if line.startswith("data:"):
                    break
    wait_for(lambda: "Item" not in moto_dynamodb.get_item(TableName=TABLE, Key=slot), 5, "the slot released")
    emulator.set_scenario()
    assert (
        httpx.post(limited_app + "/v1/chat/completions", json=body, headers=headers, timeout=HTTP_TIMEOUT).status_code
        == 200
    )


def test_tokens_of_a_stream_are_charged_to_the_caller(limited_app: str, emulator: Emulator, moto_dynamodb: Any) -> None:
    caller = user("charge-e2e")
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    response = httpx.post(
        limited_app + "/v1/chat/completions", json=body, headers=context_header(user_arn=caller), timeout=HTTP_TIMEOUT
    )
    total = [line for line in response.text.splitlines() if '"usage":{' in line]
    assert total
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    item = moto_dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": f"tokens#{caller}#{day}"}})["Item"]
    usage = json.loads(total[-1][len("data: ") :])["usage"]
    assert int(item["tokens"]["N"]) == usage["total_tokens"]
    assert int(item["requests"]["N"]) == 1


def test_limits_need_a_table(tmp_path: Path, session_emulator: Emulator) -> None:
    env = app_env(session_emulator.url, DAILY_TOKEN_BUDGET="100")
    with pytest.raises(RuntimeError, match=r"DAILY_TOKEN_BUDGET, MAX_STREAMS_PER_CALLER, .* need USAGE_TABLE_NAME"):
        start_app(env, tmp_path / "app.log")


def test_a_stream_that_fails_to_open_releases_its_slot(limited_app: str, emulator: Emulator) -> None:
    headers = context_header(user_arn=user("failed-open-e2e"))
    body = {**CHAT, "stream": True}
    emulator.set_scenario(fault="unavailable")
    for _ in range(3):  # one slot: a leaked slot would turn the second attempt into a 429
        response = httpx.post(limited_app + "/v1/chat/completions", json=body, headers=headers, timeout=HTTP_TIMEOUT)
        assert response.status_code == 503, response.text


class Fired:
    """``count`` requests sent at once (a barrier releases them together); ``responses`` fills as they return."""

    def __init__(self, url: str, path: str, body: dict[str, Any], headers: dict[str, str], count: int) -> None:
        self.count = count
        self.responses: list[httpx.Response] = []
        self._lock = threading.Lock()
        barrier = threading.Barrier(count)

        def send() -> None:
            barrier.wait()
            response = httpx.post(url + path, json=body, headers=headers, timeout=30)
            with self._lock:
                self.responses.append(response)

        self._threads = [threading.Thread(target=send) for _ in range(count)]
        for thread in self._threads:
            thread.start()

    def returned(self) -> int:
        with self._lock:
            return len(self.responses)

    def join(self) -> list[httpx.Response]:
        for thread in self._threads:
            thread.join(30)
        return self.responses


def test_concurrent_requests_of_one_caller_are_capped_whatever_their_kind(limited_app: str, emulator: Emulator) -> None:
    gate = threading.Event()
    emulator.set_scenario(gate=gate)
    headers = context_header(user_arn=user("requests-e2e"))
    fired = Fired(limited_app, "/generate", TINY, headers, 5)
    # Every request either reached the model (held there) or came back: only then may the model answer.
    wait_for(lambda: len(emulator.requests) + fired.returned() == 5, 15, "every request decided")
    gate.set()
    done = fired.join()
    assert sorted(r.status_code for r in done) == [200, 200, 200, 429, 429]
    refused = [r for r in done if r.status_code == 429]
    assert {r.json()["error"]["code"] for r in refused} == {"too_many_concurrent_requests"}
    assert all(r.headers["retry-after"].isdigit() for r in refused)
    # The slots are free again.
    assert httpx.post(limited_app + "/generate", json=TINY, headers=headers, timeout=HTTP_TIMEOUT).status_code == 200


def test_an_iam_callers_request_rate_is_limited_per_minute(limited_app: str, emulator: Emulator) -> None:
    headers = context_header(user_arn=user("rate-e2e"))
    statuses = []
    for _ in range(2 * RATE + 1):  # a minute boundary inside the run lets at most RATE more through
        response = httpx.post(limited_app + "/generate", json=TINY, headers=headers, timeout=HTTP_TIMEOUT)
        statuses.append(response.status_code)
        if response.status_code != 200:
            break
    assert response.status_code == 429, statuses
    assert statuses.count(200) >= RATE
    assert response.json()["error"]["code"] == "too_many_requests_per_minute"
    assert 1 <= int(response.headers["retry-after"]) <= 60
    # Another caller is not slowed down.
    other = context_header(user_arn=user("rate-e2e-other"))
    assert httpx.post(limited_app + "/generate", json=TINY, headers=other, timeout=HTTP_TIMEOUT).status_code == 200


@pytest.fixture(scope="module")
def budget60_app(
    session_emulator: Emulator, moto_dynamodb: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    env = app_env(
        session_emulator.url,
        CALLER_IDENTITY="iam",
        USAGE_TABLE_NAME=TABLE,
        DAILY_TOKEN_BUDGET="60",
        AWS_ENDPOINT_URL_DYNAMODB=moto_dynamodb.meta.endpoint_url,
    )
    proc, url = start_app(env, tmp_path_factory.mktemp("budget60") / "app.log")
    yield url
    proc.terminate()
    proc.wait(10)


def test_ten_concurrent_requests_never_take_a_budget_of_60_past_60(
    budget60_app: str, emulator: Emulator, moto_dynamodb: Any
) -> None:
    gate = threading.Event()
    emulator.set_scenario(gate=gate)
    caller = user("concurrent-budget-e2e")
    body = {**CHAT, "max_tokens": 5}
    fired = Fired(budget60_app, "/v1/chat/completions", body, context_header(user_arn=caller), 10)
    # Every request either reached the model (held there) or was refused: only then may the model answer.
    wait_for(lambda: len(emulator.requests) + fired.returned() == 10, 15, "every request decided")
    gate.set()
    done = fired.join()
    admitted = [r for r in done if r.status_code == 200]
    refused = [r for r in done if r.status_code == 429]
    assert len(admitted) + len(refused) == 10
    assert admitted and refused
    assert {r.json()["error"]["code"] for r in refused} == {"daily_token_budget_exceeded"}
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    item = moto_dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": f"tokens#{caller}#{day}"}})["Item"]
    charged = int(item["tokens"]["N"])
    assert charged == sum(r.json()["usage"]["total_tokens"] for r in admitted)
    assert charged <= 60
