"""Errors in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``.

The status says whose fault it was: 4xx the caller's (400 bad input of any kind, including malformed JSON and
schema violations, always naming the field in ``param``; 404/405 unknown route; 413 body too large; 429 slow
down), 5xx ours or the model's (502 the model failed or answered nonsense, 503 endpoint missing or not ready,
504 timeout, 500 a bug — only the request id is given).
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def bad_request(message: str, param: str | None = None, code: str = "invalid_value") -> ApiError:
    return ApiError(400, message, param=param, code=code)


def incomplete_stream() -> ApiError:
    """The model's stream closed before TGI sent its final event."""
    return ApiError(
        502,
        "The model stream ended before the generation finished.",
        type="upstream_error",
        code="incomplete_stream",
    )
