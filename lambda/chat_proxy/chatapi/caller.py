"""Who is calling: the authenticated principal API Gateway saw, as the Lambda Web Adapter forwards it.

API Gateway puts the caller in the proxy event's ``requestContext.identity``: ``userArn`` (and ``caller``) for
``AWS_IAM`` methods, ``apiKeyId`` for methods that require an API key (field names as serialized by
aws-lambda-events' ``ApiGatewayRequestIdentity``, aws/aws-lambda-rust-runtime
``lambda-events/src/event/apigw/mod.rs``). The adapter sends that request context to the app as the
``x-amzn-request-context`` header, and it *replaces* any header of that name the client sent: it calls
``HeaderMap::insert``, which drops existing values, after copying the client's headers
(awslabs/aws-lambda-web-adapter ``src/lib.rs``, ``Adapter::fetch_response``). So behind LWA the header is
API Gateway's word, not the client's.

Outside Lambda (``make dev``) nothing guarantees that, so the header is trusted only when ``CALLER_IDENTITY``
says which API Gateway auth mode the app sits behind (the CDK construct sets it); without it every request is
the caller ``local``. A header that is missing or malformed, or lacks the mode's field, gives ``unknown``:
one shared caller rather than a request that escapes metering.

An assumed-role ARN (``arn:aws:sts::123456789012:assumed-role/Role/session``) is reduced to its role
(``.../assumed-role/Role``) by default: the session name is picked by whoever assumes the role, so keeping it
would let one role dodge its budget with fresh session names, and would make one CloudWatch metric per session.
That also means every user of one role (e.g. all federated users of one IAM Identity Center permission set)
shares one budget. ``CALLER_KEY=session`` keeps the session name, for roles whose session name the caller cannot
choose: IAM Identity Center sets it to the user name, and a role's trust policy can require
``sts:RoleSessionName`` to equal ``${aws:username}`` (STS API reference, AssumeRole ``RoleSessionName``; AWS
Security Blog, "Easily control the naming of individual IAM role sessions"). Only turn it on when every role
that may call the API pins its session names that way (docs/security.md, section 4).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from chatapi.request_ids import MAX_CONTEXT_HEADER_BYTES, REQUEST_CONTEXT_HEADER

CALLER_IDENTITY = "CALLER_IDENTITY"
MODES = ("iam", "api_key")
LOCAL = "local"
UNKNOWN = "unknown"
# IAM ARNs are at most 2048 characters; API key ids are 10 alphanumerics. Anything else is not API Gateway's.
ARN = re.compile(r"^arn:aws[a-z-]*:(iam|sts)::\d{12}:[\w+=,.@/-]{1,1900}$")
API_KEY_ID = re.compile(r"^[A-Za-z0-9]{1,128}$")
ASSUMED_ROLE = re.compile(r"^(arn:aws[a-z-]*:sts::\d{12}:assumed-role/[\w+=,.@-]+)/[\w+=,.@-]+$")


def _identity(raw: bytes | None) -> dict[str, Any] | None:
    if not raw or len(raw) > MAX_CONTEXT_HEADER_BYTES:
        return None
    try:
        context = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    identity = context.get("identity") if isinstance(context, dict) else None
    return identity if isinstance(identity, dict) else None


def principal(arn: str, *, keep_session: bool = False) -> str:
    """The caller an IAM ARN stands for: an assumed role's session name is dropped unless ``keep_session``."""
    match = ASSUMED_ROLE.match(arn)
    return match.group(1) if match and not keep_session else arn


def resolve_caller(headers: Mapping[bytes, bytes], mode: str | None, *, keep_session: bool = False) -> str:
    """The caller of a request with (lower-cased, raw) ``headers`` behind API Gateway auth ``mode``."""
    if mode is None:
        return LOCAL
    identity = _identity(headers.get(REQUEST_CONTEXT_HEADER))
    if identity is None:
        return UNKNOWN
    if mode == "api_key":
        key_id = identity.get("apiKeyId")
        return key_id if isinstance(key_id, str) and API_KEY_ID.match(key_id) else UNKNOWN
    arn = identity.get("userArn")
    return principal(arn, keep_session=keep_session) if isinstance(arn, str) and ARN.match(arn) else UNKNOWN
