"""Per-caller limits kept in DynamoDB: a daily token budget and a cap on concurrent streams.

One table, partition key ``pk`` (string), TTL attribute ``expires_at`` (epoch seconds). Every change is one
atomic UpdateItem/DeleteItem with a ConditionExpression, so concurrent Lambdas never lose an update or both take
the last slot.

* **Budget** (``DAILY_TOKEN_BUDGET``): item ``tokens#<caller>#<UTC date>``. Before the model is called, an
  UpdateItem adds 1 to ``requests`` on condition ``tokens < budget`` (so the check and the request count are one
  atomic step); after the answer, an UpdateItem adds the prompt and completion tokens. A request admitted under
  budget runs to its end, so the day's total can pass the budget by what the requests in flight then generate
  (each at most its prompt plus its ``max_tokens``). A new UTC day is a new item; yesterday's expires by TTL.
* **Streams** (``MAX_STREAMS_PER_CALLER``): N slot items ``streams#<caller>#<i>``. A stream takes, trying them
  from a random one on, the first slot whose lease is free or expired (condition ``attribute_not_exists(lease)
  OR expires_at < now``) by writing its lease id and an expiry past the longest possible stream; it releases
  the slot when it ends (DeleteItem on condition ``lease = its id``). A Lambda that dies mid-stream never
  releases: its lease simply expires, and the slot is free again (the condition, not the lazy TTL deletion,
  decides).

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

# Lambda's longest run (15 min) plus slack: no stream can legitimately hold a slot longer.
STREAM_LEASE_SECONDS = 15 * 60 + 60
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


def over_budget(budget: int, now: float) -> ApiError:
    retry = seconds_to_utc_midnight(now)
    return ApiError(
        429,
        f"You have used your daily budget of {budget} tokens; it resets at 00:00 UTC (in {retry} s).",
        type="rate_limit_error",
        code="daily_token_budget_exceeded",
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
    key: str
    lease: str


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
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._table = table
        self.daily_token_budget = daily_token_budget
        self.max_streams = max_streams
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

    def check_budget(self, caller: str) -> None:
        """Count the request and raise the 429 when ``caller`` has used today's budget."""
        if self.daily_token_budget is None:
            return
        now = self._clock()
        admitted = self._update(
            Key={"pk": {"S": f"tokens#{caller}#{_day(now)}"}},
            UpdateExpression="ADD requests :one SET expires_at = if_not_exists(expires_at, :expires)",
            ConditionExpression="attribute_not_exists(tokens) OR tokens < :budget",
            ExpressionAttributeValues={
                ":one": {"N": "1"},
                ":budget": {"N": str(self.daily_token_budget)},
                ":expires": {"N": str(int(now) + seconds_to_utc_midnight(now) + BUDGET_ITEM_DAYS * 86400)},
            },
        )
        if not admitted:
            raise over_budget(self.daily_token_budget, now)

    def add_tokens(self, caller: str, tokens: int) -> None:
        """Charge ``tokens`` to ``caller``'s day (the day the answer ended)."""
        if self.daily_token_budget is None or tokens <= 0:
            return
        now = self._clock()
        self._update(
            Key={"pk": {"S": f"tokens#{caller}#{_day(now)}"}},
            UpdateExpression="ADD tokens :tokens SET expires_at = if_not_exists(expires_at, :expires)",
            ExpressionAttributeValues={
                ":tokens": {"N": str(tokens)},
                ":expires": {"N": str(int(now) + seconds_to_utc_midnight(now) + BUDGET_ITEM_DAYS * 86400)},
            },
        )

    def acquire_stream(self, caller: str) -> StreamSlot | None:
        """Take a free stream slot of ``caller``; raise the 429 when all are held. None when the limit is off."""
        if self.max_streams is None:
            return None
        now = self._clock()
        lease = uuid.uuid4().hex
        # From a random slot on: concurrent starts of one caller rarely contend for the same item first.
        first = random.randrange(self.max_streams)
        for n in range(self.max_streams):
            key = f"streams#{caller}#{(first + n) % self.max_streams}"
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
        raise too_many_streams(self.max_streams)

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
