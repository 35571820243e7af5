"""What every request passes before and after its route: request ids (and their log keys), the body cap and UTF-8
check, one access log line, a last-resort 500, and errors in OpenAI's shape (pydantic's validation errors named by
the field, in OpenAI's words).

Request ids (``request_ids``): API Gateway's ``requestId`` forwarded by the Lambda Web Adapter, else the caller's
``x-amzn-requestid``/``x-request-id``, else a fresh one; echoed as ``x-request-id``. Every log line of a request
(Powertools JSON on stdout) carries ``request_id`` and, behind LWA, ``apigw_request_id`` and
``lambda_request_id``. The middleware also settles whatever metering a request left open (``usage``).
"""

from __future__ import annotations

import re
import time
from typing import Any

from aws_lambda_powertools import Logger
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatapi.errors import ApiError
from chatapi.request_ids import resolve
from chatapi.unicode_check import lone_surrogate_error
from chatapi.usage import finish_pending

logger = Logger(service="chat-proxy")


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


class RequestContextMiddleware:
    """Request ids (and their log keys), body cap and UTF-8 check, one access log line, and a last-resort 500."""

    def __init__(self, app: ASGIApp, *, body_limit: int) -> None:
        self.app = app
        self.body_limit = body_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        ids = resolve(headers)
        request_id = ids.request_id
        # Context-local (each request is its own task; worker threads get a copy): on every log line of the request.
        logger.thread_safe_clear_keys()
        logger.thread_safe_append_keys(**ids.log_keys())
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            if scope["method"] in ("POST", "PUT", "PATCH"):
                body_or_error = await self._read_body(headers, receive)
                if isinstance(body_or_error, ApiError):
                    await error_response(body_or_error)(scope, receive, send_with_id)
                    return
                receive = _replay(body_or_error, receive)
            await self.app(scope, receive, send_with_id)
        except Exception:
            logger.exception("unhandled error")
            if status == 0:
                error = ApiError(
                    500, f"Internal error; request id {request_id}.", type="internal_error", code="internal_error"
                )
                await error_response(error)(scope, receive, send_with_id)
                status = 500
        finally:
            await finish_pending(scope)
            logger.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                },
            )

    async def _read_body(self, headers: dict[bytes, bytes], receive: Receive) -> bytes | ApiError:
        too_large = ApiError(
            413,
            f"Request body exceeds {self.body_limit} bytes.",
            code="request_too_large",
        )
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                return ApiError(400, "Invalid Content-Length header.", code="invalid_header")
            if int(declared) > self.body_limit:
                return too_large
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.body_limit:
                return too_large
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            return ApiError(400, f"Request body is not valid UTF-8 (byte {exc.start}).", code="invalid_encoding")
        return lone_surrogate_error(body) or body


def _replay(body: bytes, receive: Receive) -> Receive:
    """Hand the buffered body to the app, then the real channel (streaming responses watch it for disconnects)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _param(loc: tuple[Any, ...]) -> str | None:
    """``("body", "messages", 0, "content", "list[TextPart]", 0, "text")`` -> ``messages[0].content[0].text``."""
    out = ""
    for part in loc[1:] if loc and loc[0] == "body" else loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part) and part not in (
            "str",
            "int",
            "float",
            "bool",
            "list",
            "dict",
        ):
            out += f".{part}" if out else part
    return out or None


def _tag_error(first: dict[str, Any], param: str | None) -> ApiError:
    """A bad discriminator (``role``, a part's ``type``): name the field and the values it may take."""
    ctx = first.get("ctx") or {}
    field = str(ctx.get("discriminator", "")).strip("'()")
    param = f"{param}.{field}" if param and field else param or field or None
    expected = ", ".join(t.strip().strip("'").partition("=")[2] for t in str(ctx.get("expected_tags", "")).split(","))
    if first.get("type") == "union_tag_not_found":
        return ApiError(400, f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter")
    return ApiError(
        400, f"Invalid value for '{param}': {ctx.get('tag')!r} is not one of: {expected}.", param=param,
        code="invalid_value",
    )  # fmt: skip


def validation_error(exc: RequestValidationError) -> ApiError:
    errors = exc.errors() or [{"type": "value_error", "loc": (), "msg": "invalid request"}]
    # A union (``content: str | list[part]``) reports one error per member: name the most specific one.
    root = _param(tuple(errors[0].get("loc", ()))) or ""
    same_field = [e for e in errors if (_param(tuple(e.get("loc", ()))) or "").startswith(root)]
    first = max(same_field, key=lambda e: len(_param(tuple(e.get("loc", ()))) or ""))
    kind = first.get("type", "")
    param = _param(tuple(first.get("loc", ())))
    if kind == "json_invalid":
        return ApiError(400, "We could not parse the JSON body of your request.", code="invalid_json")
    if kind == "extra_forbidden":
        return ApiError(400, f"Unrecognized request argument supplied: {param}", param=param, code="unknown_parameter")
    if kind == "missing":
        return ApiError(400, f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter")
    if kind in ("union_tag_invalid", "union_tag_not_found") and param is not None:
        return _tag_error(first, param)
    if param is None:
        return ApiError(400, "The request body must be a JSON object.", code="invalid_body")
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    return ApiError(400, f"Invalid value for '{param}': {message}", param=param, code="invalid_value")


def add_error_handlers(app: FastAPI) -> None:
    """Every error as OpenAI's ``{"error": {...}}`` with a status that says whose fault it was."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> Response:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        return error_response(validation_error(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        kind = "not_found" if exc.status_code == 404 else "invalid_request_error"
        message = "Unknown route." if exc.status_code == 404 else str(exc.detail)
        headers = dict(exc.headers or {})
        return error_response(ApiError(exc.status_code, message, type=kind, code=kind, headers=headers))
