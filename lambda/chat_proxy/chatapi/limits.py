"""Per-caller limits kept in DynamoDB: a daily token budget, caps on concurrent requests and streams, and a
request rate per minute.

One table, partition key ``pk`` (string), TTL attribute ``expires_at`` (epoch seconds). Every change is one
atomic UpdateItem/DeleteItem with a ConditionExpression, so concurrent Lambdas never lose an update or both take
the last slot (DynamoDB applies a conditional write atomically per item: developer guide, "Condition expressions").

* **Budget** (``DAILY_TOKEN_BUDGET``): item ``tokens#<caller>#<UTC date>``. Before the model is called, the
  request *reserves* its worst case (its prompt's estimated tokens plus ``max_tokens`` for every sequence it may
  generate): one UpdateItem adds it to ``tokens`` on condition ``tokens <= budget - reservation``; when that
  fails the request is refused (429) and the model never sees it. When the request ends, however it ends, the
  difference between what it used and what it reserved is added (a negative number gives the rest back), on the
  same item, so a request that crosses midnight settles on the day it was admitted. The day's total therefore
  never passes the budget, whatever the concurrency: at any moment it is the sum of settled requests plus the
  worst cases of those in flight. A Lambda that dies before settling leaves its reservation charged (the caller
  loses at most that request's worst case for that day). A new UTC day is a new item; yesterday's expires by TTL.
* **Concurrent requests** (``MAX_REQUESTS_PER_CALLER``, every kind) and **streams** (``MAX_STREAMS_PER_CALLER``):
  N slot items ``requests#<caller>#<i>`` / ``streams#<caller>#<i>``. A request takes, trying them from a random
  one on, the first slot whose lease is free or expired (condition ``attribute_not_exists(lease) OR expires_at <
  now``) by writing its lease id and an expiry past the longest possible request; it releases the slot when it
  ends (DeleteItem on condition ``lease = its id``). A Lambda that dies mid-request never releases: its lease
  simply expires, and the slot is free again (the condition, not the lazy TTL deletion, decides).
* **Rate** (``REQUESTS_PER_MINUTE_PER_CALLER``): item ``rate#<caller>#<epoch minute>``; each model request adds 1
  on condition ``n < limit`` (a fixed one-minute window: up to twice the limit can pass across a window edge).

DynamoDB unreachable or throttling: the request goes on (logged as an error) rather than failing every caller;
the stage throttle still applies.
"""

from __future__ import annotations

import math
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chatapi.errors import ApiError

# Lambda's longest run (15 min) plus slack: no request can legitimately hold a slot longer.
STREAM_LEASE_SECONDS = 15 * 60 + 60
RATE_WINDOW_SECONDS = 60
# Budget items outlive their day a little, for whoever inspects the table; TTL deletes them after.
BUDGET_ITEM_DAYS = 2
STREAM_RETRY_AFTER_SECONDS = 5


class LimitsUnavailable(Exception):
    """DynamoDB could not be asked; the caller decides whether to fail open."""


def seconds_to_utc_midnight(now: float) -> int:
    day = datetime.fromtimestamp(now, UTC).date()
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    return max(1, math.ceil(midnight.timestamp() - now))


def _day(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")


def over_budget(budget: int, reservation: int, now: float) -> ApiError:
    retry = seconds_to_utc_midnight(now)
    return ApiError(
        429,
        f"This request may use up to {reservation} tokens (its prompt plus max_tokens for each sequence), which "
        f"does not fit in what is left of your daily budget of {budget} tokens, counting the requests you have in "
        f"progress. Send a smaller max_tokens, wait for a request to finish, or retry after 00:00 UTC (in {retry} "
        "s).",
        type="rate_limit_error",
        code="daily_token_budget_exceeded",
        headers={"Retry-After": str(retry)},
    )


def larger_than_budget(budget: int, reservation: int) -> ApiError:
    return ApiError(
        400,
        f"This request may use up to {reservation} tokens (its prompt plus max_tokens for each sequence), more "
        f"than your whole daily budget of {budget} tokens; send a smaller max_tokens or a shorter prompt.",
        param="max_tokens",
        code="request_exceeds_token_budget",
    )


def too_many_requests(limit: int) -> ApiError:
    return ApiError(
        429,
        f"You already have {limit} request(s) in progress, the most allowed per caller; retry when one has finished.",
        type="rate_limit_error",
        code="too_many_concurrent_requests",
        headers={"Retry-After": str(STREAM_RETRY_AFTER_SECONDS)},
    )


def rate_limited(limit: int, retry: int) -> ApiError:
    return ApiError(
        429,
        f"You have sent {limit} request(s) this minute, the most allowed per caller; retry in {retry} s.",
        type="rate_limit_error",
        code="too_many_requests_per_minute",
        headers={"Retry-After": str(retry)},
    )


def too_many_streams(limit: int) -> ApiError:
    return ApiError(
        429,
        f"You already have {limit} streamed answer(s) in progress, the most allowed per caller; "
        "retry when one has finished.",
        type="rate_limit_error",
        code="too_many_concurrent_streams",
        headers={"Retry-After": str(STREAM_RETRY_AFTER_SECONDS)},
    )


@dataclass(frozen=True, slots=True)
class StreamSlot:
    """A held slot (of the stream or the request cap): released with ``UsageLimits.release_stream``."""

    key: str
    lease: str


@dataclass(frozen=True, slots=True)
class Reservation:
    """Tokens reserved on one day's budget item, settled with ``UsageLimits.settle``."""

    key: str
    tokens: int


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class UsageLimits:
    """The limits of one table; ``daily_token_budget`` / ``max_streams`` None means that limit is off."""

    def __init__(
        self,
        client: Any,
        table: str,
        *,
        daily_token_budget: int | None,
        max_streams: int | None,
        max_requests: int | None = None,
        requests_per_minute: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._table = table
        self.daily_token_budget = daily_token_budget
        self.max_streams = max_streams
        self.max_requests = max_requests
        self.requests_per_minute = requests_per_minute
        self._clock = clock

    def _update(self, **kwargs: Any) -> bool:
        """One UpdateItem; False when its condition failed."""
        try:
            self._client.update_item(TableName=self._table, **kwargs)
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise LimitsUnavailable(exc.response.get("Error", {}).get("Code", "ClientError")) from exc
        except BotoCoreError as exc:
            raise LimitsUnavailable(type(exc).__name__) from exc
        return True

    def _expires(self, now: float) -> str:
        return str(int(now) + seconds_to_utc_midnight(now) + BUDGET_ITEM_DAYS * 86400)

    def reserve(self, caller: str, tokens: int) -> Reservation | None:
        """Reserve ``tokens`` (the request's worst case) on ``caller``'s budget for today, counting the request;
        raise the 429 when they do not fit (the 400 when they never could). None when the budget is off."""
        budget = self.daily_token_budget
        if budget is None:
            return None
        tokens = max(tokens, 0)
        if tokens > budget:
            raise larger_than_budget(budget, tokens)
        now = self._clock()
        key = f"tokens#{caller}#{_day(now)}"
        # DynamoDB conditions cannot add, so the room is computed here: tokens + reservation <= budget.
        admitted = self._update(
            Key={"pk": {"S": key}},
            UpdateExpression="ADD tokens :tokens, requests :one SET expires_at = if_not_exists(expires_at, :expires)",
            ConditionExpression="attribute_not_exists(tokens) OR tokens <= :room",
            ExpressionAttributeValues={
                ":tokens": {"N": str(tokens)},
                ":one": {"N": "1"},
                ":room": {"N": str(budget - tokens)},
                ":expires": {"N": self._expires(now)},
            },
        )
        if not admitted:
            raise over_budget(budget, tokens, now)
        return Reservation(key, tokens)

    def unreserved(self, caller: str) -> Reservation:
        """Today's budget item of ``caller`` with nothing reserved (admitted while DynamoDB could not be asked)."""
        return Reservation(f"tokens#{caller}#{_day(self._clock())}", 0)

    def settle(self, reservation: Reservation, used: int) -> None:
        """Replace ``reservation`` by the ``used`` tokens (gives back the rest; charges more if it was exceeded)."""
        delta = max(used, 0) - reservation.tokens
        if delta == 0:
            return
        self._update(
            Key={"pk": {"S": reservation.key}},
            UpdateExpression="ADD tokens :delta",
            ExpressionAttributeValues={":delta": {"N": str(delta)}},
        )

    def count_request(self, caller: str) -> None:
        """Count a request in ``caller``'s current minute; raise the 429 when the minute's limit is reached."""
        limit = self.requests_per_minute
        if limit is None:
            return
        now = self._clock()
        minute = int(now) // RATE_WINDOW_SECONDS
        admitted = self._update(
            Key={"pk": {"S": f"rate#{caller}#{minute}"}},
            UpdateExpression="ADD n :one SET expires_at = if_not_exists(expires_at, :expires)",
            ConditionExpression="attribute_not_exists(n) OR n < :limit",
            ExpressionAttributeValues={
                ":one": {"N": "1"},
                ":limit": {"N": str(limit)},
                ":expires": {"N": str((minute + 2) * RATE_WINDOW_SECONDS)},
            },
        )
        if not admitted:
            raise rate_limited(limit, max(1, math.ceil((minute + 1) * RATE_WINDOW_SECONDS - now)))

    def acquire_request(self, caller: str) -> StreamSlot | None:
        """Take one of ``caller``'s request slots (every kind of request); 429 when all are held."""
        if self.max_requests is None:
            return None
        return self._acquire("requests", caller, self.max_requests, too_many_requests)

    def acquire_stream(self, caller: str) -> StreamSlot | None:
        """Take a free stream slot of ``caller``; raise the 429 when all are held. None when the limit is off."""
        if self.max_streams is None:
            return None
        return self._acquire("streams", caller, self.max_streams, too_many_streams)

    def _acquire(self, kind: str, caller: str, limit: int, refusal: Callable[[int], ApiError]) -> StreamSlot:
        now = self._clock()
        lease = uuid.uuid4().hex
        # From a random slot on: concurrent starts of one caller rarely contend for the same item first.
        first = random.randrange(limit)
        for n in range(limit):
            key = f"{kind}#{caller}#{(first + n) % limit}"
            if self._update(
                Key={"pk": {"S": key}},
                UpdateExpression="SET lease = :lease, expires_at = :expires",
                ConditionExpression="attribute_not_exists(lease) OR expires_at < :now",
                ExpressionAttributeValues={
                    ":lease": {"S": lease},
                    ":expires": {"N": str(int(now) + STREAM_LEASE_SECONDS)},
                    ":now": {"N": str(int(now))},
                },
            ):
                return StreamSlot(key, lease)
        raise refusal(limit)

    def release_stream(self, slot: StreamSlot) -> None:
        """Free ``slot`` if it is still ours (an expired lease may have been taken over meanwhile)."""
        try:
            self._client.delete_item(
                TableName=self._table,
                Key={"pk": {"S": slot.key}},
                ConditionExpression="lease = :lease",
                ExpressionAttributeValues={":lease": {"S": slot.lease}},
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise LimitsUnavailable(exc.response.get("Error", {}).get("Code", "ClientError")) from exc
        except BotoCoreError as exc:
            raise LimitsUnavailable(type(exc).__name__) from exc
