"""Request ids: API Gateway's when the Lambda Web Adapter forwards one, else the caller's, else a fresh one.

Behind the Lambda Web Adapter (LWA) every request carries two JSON headers that LWA itself sets (replacing any a
client sent):

* ``x-amzn-request-context``: the trigger's request context. For an API Gateway REST API that is the proxy
  event's ``requestContext``: ``requestId`` (the id API Gateway returns to the client as ``x-amzn-RequestId`` and
  writes to its access log), ``identity.sourceIp``, ``identity.userArn``, ``stage``, ...
* ``x-amzn-lambda-context``: the invocation's Lambda context: ``request_id`` (the id in the function's
  ``START``/``REPORT`` log lines), ``deadline``, ``invoked_function_arn``, ...

The request id is API Gateway's ``requestId`` when there is one, else the first safe one of ``x-amzn-requestid`` /
``x-request-id``, else a fresh UUID; both AWS ids are also kept for the logs. Outside Lambda (``make dev``) neither
header is present. A context header that is not what LWA sends (not UTF-8 JSON, not an object, nested too deep,
larger than ``MAX_CONTEXT_HEADER_BYTES``, an id that is not a short string of safe characters) is ignored: the
request goes on with the fallback, never an error.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

REQUEST_CONTEXT_HEADER = b"x-amzn-request-context"
LAMBDA_CONTEXT_HEADER = b"x-amzn-lambda-context"
CLIENT_ID_HEADERS = (b"x-amzn-requestid", b"x-request-id")
# API Gateway's context is a few KB even with a large authorizer context; anything far larger is not LWA's.
MAX_CONTEXT_HEADER_BYTES = 65536
SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


@dataclass(frozen=True, slots=True)
class RequestIds:
    request_id: str
    apigw_request_id: str | None = None
    lambda_request_id: str | None = None

    def log_keys(self) -> dict[str, str]:
        """The ids for every log line of the request (absent ones left out)."""
        keys = {"request_id": self.request_id}
        if self.apigw_request_id:
            keys["apigw_request_id"] = self.apigw_request_id
        if self.lambda_request_id:
            keys["lambda_request_id"] = self.lambda_request_id
        return keys


def _safe(value: Any) -> str | None:
    # fullmatch: ``$`` would also accept a trailing newline, which breaks the response header later.
    return value if isinstance(value, str) and SAFE_ID.fullmatch(value) else None


def context_id(raw: bytes | None, key: str) -> str | None:
    """``key`` of the JSON object in header value ``raw`` when it is a safe id; None for anything else."""
    if not raw or len(raw) > MAX_CONTEXT_HEADER_BYTES:
        return None
    try:
        parsed = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested past the parser's recursion limit
        return None
    return _safe(parsed.get(key)) if isinstance(parsed, dict) else None


def resolve(headers: Mapping[bytes, bytes]) -> RequestIds:
    """The ids of a request with (lower-cased, raw) ``headers``."""
    apigw = context_id(headers.get(REQUEST_CONTEXT_HEADER), "requestId")
    lambda_id = context_id(headers.get(LAMBDA_CONTEXT_HEADER), "request_id")
    client = next(
        (value for h in CLIENT_ID_HEADERS if (value := _safe(headers.get(h, b"").decode("latin-1")))),
        None,
    )
    return RequestIds(apigw or client or uuid.uuid4().hex, apigw, lambda_id)
