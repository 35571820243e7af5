"""Helpers for the metering and limits tests: API Gateway request contexts as LWA forwards them, and the EMF
records the app writes to stdout."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ACCOUNT = "123456789012"


def context_header(
    *, user_arn: str | None = None, api_key_id: str | None = None, request_id: str = "req-1"
) -> dict[str, str]:
    """``x-amzn-request-context`` as LWA sends it for a REST API: the proxy event's requestContext, with the
    identity fields API Gateway leaves null for the other auth mode."""
    identity = {
        "accountId": ACCOUNT if user_arn else None,
        "apiKey": "secret-key-value" if api_key_id else None,
        "apiKeyId": api_key_id,
        "caller": user_arn.split(":")[-1] if user_arn else None,
        "sourceIp": "203.0.113.7",
        "userAgent": "test",
        "userArn": user_arn,
        "user": None,
    }
    context = {
        "accountId": ACCOUNT,
        "apiId": "1234567890",
        "httpMethod": "POST",
        "identity": identity,
        "requestId": request_id,
        "resourcePath": "/v1/chat/completions",
        "stage": "prod",
    }
    return {"x-amzn-request-context": json.dumps(context)}


def emf_records(log: Path) -> list[dict[str, Any]]:
    records = []
    for line in log.read_text().splitlines():
        if line.startswith("{") and '"_aws"' in line:
            records.append(json.loads(line))
    return records


def emf_for(log: Path, caller: str, count: int = 1, timeout: float = 5) -> list[dict[str, Any]]:
    """The EMF records of ``caller``, waiting (bounded) until there are ``count``."""
    deadline = time.monotonic() + timeout
    while True:
        found = [r for r in emf_records(log) if r.get("Caller") == caller]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.02)
    raise AssertionError(f"not within {timeout} s: {what}")
