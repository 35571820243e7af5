"""Stored responses (``-c responses_store=true``): one DynamoDB item per response, readable only by its caller.

The partition key is ``<caller>#<response id>``, where the caller is the identity metering uses
(``chatapi.caller``: the IAM principal or API key id API Gateway authenticated). A caller can therefore only name
its own items: asking for another caller's id reads the key ``<me>#<their id>``, which does not exist (404, the
same answer as for an id that never existed). Requests whose caller is ``unknown`` (no identity from API Gateway)
or ``local`` outside a deployment are still served, but nothing is stored or read for ``unknown``.

An item holds the response object and the conversation items that led to it (the earlier conversation, if any,
then this request's input), zlib-compressed JSON, and ``expires_at`` (epoch seconds) for DynamoDB's TTL
(``RESPONSES_TTL_DAYS``, default 30, as OpenAI keeps responses). DynamoDB's item size limit is 400 KB
(DynamoDB developer guide, "Quotas in Amazon DynamoDB", Items: "Item size"); a longer conversation is answered but
not stored, and the response says ``store: false``.

Environment (set by the ChatApi construct):

======================== ========= ==============================================================================
Variable                 Default   Meaning
======================== ========= ==============================================================================
``RESPONSES_TABLE_NAME`` (none)    the table; unset: stateless (``previous_response_id`` and GET are refused)
``RESPONSES_TTL_DAYS``   ``30``    days a stored response is kept (DynamoDB deletes expired items, usually
                                   within a few days of expiry; reads here ignore expired items at once)
======================== ========= ==============================================================================
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from chatapi.caller import UNKNOWN
from chatapi.errors import ApiError
from chatapi.settings import SettingsError

RESPONSES_TABLE_NAME = "RESPONSES_TABLE_NAME"
RESPONSES_TTL_DAYS = "RESPONSES_TTL_DAYS"
DEFAULT_TTL_DAYS = 30
PARTITION_KEY = "pk"
TTL_ATTRIBUTE = "expires_at"
# DynamoDB's item size limit (400 KB, attribute names included), less room for the key and the other attributes.
MAX_ITEM_BYTES = 400 * 1024 - 8 * 1024
RESPONSE_ID = re.compile(r"^resp_[0-9a-f]{32}$")


@dataclass(frozen=True, slots=True)
class StoreSettings:
    table_name: str | None = None
    ttl_days: int = DEFAULT_TTL_DAYS


def load_store_settings(env: Mapping[str, str] | None = None) -> StoreSettings:
    env = os.environ if env is None else env
    table = env.get(RESPONSES_TABLE_NAME, "").strip() or None
    raw = env.get(RESPONSES_TTL_DAYS, "").strip()
    if raw and (not raw.isdigit() or not 1 <= int(raw) <= 3650):
        raise SettingsError(f"{RESPONSES_TTL_DAYS}={raw!r} is not allowed; expected whole days from 1 to 3650")
    return StoreSettings(table, int(raw) if raw else DEFAULT_TTL_DAYS)


@dataclass(frozen=True, slots=True)
class Stored:
    response: dict[str, Any]
    items: list[dict[str, Any]]  # the conversation before the response's output

    def conversation(self) -> list[dict[str, Any]]:
        """The items a continuation starts from: the stored input, then the response's output."""
        return [*self.items, *self.response.get("output", [])]


def _unavailable() -> ApiError:
    return ApiError(503, "The response store is unavailable; try again.", type="server_error", code="store_unavailable")


def not_found(response_id: str, param: str | None = None) -> ApiError:
    return ApiError(
        404,
        f"No response with id '{response_id}' found.",
        param=param,
        type="invalid_request_error",
        code="response_not_found",
    )


class ResponseStore:
    """Put, get and delete stored responses of one caller in DynamoDB ``table``.

    Without a ``client``, ``make_client`` makes one on the first call: a cold start that serves only chat
    completions never builds DynamoDB's client (tens of milliseconds of service model; bench/bench_runtime.py)."""

    def __init__(
        self,
        client: Any | None,
        table: str,
        *,
        ttl_days: int = DEFAULT_TTL_DAYS,
        make_client: Callable[[], Any] | None = None,
    ) -> None:
        if client is None and make_client is None:
            raise ValueError("ResponseStore needs a DynamoDB client or make_client")
        self._client = client
        self._make_client = make_client
        self._lock = threading.Lock()
        self.table = table
        self.ttl_seconds = ttl_days * 86400

    @property
    def client(self) -> Any:
        if self._client is None:
            with self._lock:  # routes run in FastAPI's threadpool: the first two requests may race here
                if self._client is None and self._make_client is not None:
                    self._client = self._make_client()
        return self._client

    @classmethod
    def from_settings(cls, settings: StoreSettings, *, region: str | None) -> ResponseStore | None:
        if settings.table_name is None:
            return None
        config = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "total_max_attempts": 3})

        def make_client() -> Any:
            return botocore.session.get_session().create_client("dynamodb", region_name=region, config=config)

        return cls(None, settings.table_name, ttl_days=settings.ttl_days, make_client=make_client)

    @staticmethod
    def _key(caller: str, response_id: str) -> dict[str, Any]:
        return {PARTITION_KEY: {"S": f"{caller}#{response_id}"}}

    def put(self, caller: str, response: dict[str, Any], items: list[dict[str, Any]]) -> bool:
        """Keep ``response`` (and the ``items`` before it) for ``caller``; False when it cannot be kept."""
        if caller == UNKNOWN:
            return False
        blob = zlib.compress(json.dumps({"response": response, "items": items}, ensure_ascii=False).encode())
        if len(blob) > MAX_ITEM_BYTES:
            return False
        item = {
            **self._key(caller, response["id"]),
            "data": {"B": blob},
            TTL_ATTRIBUTE: {"N": str(int(time.time()) + self.ttl_seconds)},
        }
        try:
            self.client.put_item(TableName=self.table, Item=item)
        except (ClientError, BotoCoreError):
            return False
        return True

    def get(self, caller: str, response_id: str, *, param: str | None = None) -> Stored:
        """The stored response ``response_id`` of ``caller``; 404 when it is not this caller's (or never was)."""
        if caller == UNKNOWN or not RESPONSE_ID.match(response_id):
            raise not_found(response_id, param)
        try:
            found = self.client.get_item(TableName=self.table, Key=self._key(caller, response_id), ConsistentRead=True)
        except (ClientError, BotoCoreError):
            raise _unavailable() from None
        item = found.get("Item")
        if item is None or int(item.get(TTL_ATTRIBUTE, {}).get("N", "0")) < time.time():
            raise not_found(response_id, param)
        data = json.loads(zlib.decompress(item["data"]["B"]))
        return Stored(data["response"], data["items"])

    def delete(self, caller: str, response_id: str) -> None:
        if caller == UNKNOWN or not RESPONSE_ID.match(response_id):
            raise not_found(response_id)
        try:
            self.client.delete_item(
                TableName=self.table,
                Key=self._key(caller, response_id),
                ConditionExpression="attribute_exists(#pk)",
                ExpressionAttributeNames={"#pk": PARTITION_KEY},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise not_found(response_id) from None
            raise _unavailable() from None
        except BotoCoreError:
            raise _unavailable() from None
