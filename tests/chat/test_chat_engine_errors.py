"""Both engines' error shapes, mapped to the API's OpenAI errors with a status that says whose fault it was."""

from __future__ import annotations

from typing import Any

import pytest
from chatapi.backend import engine_error

CASES: list[tuple[str, dict[str, Any], int | None, int, str]] = [
    (
        "tgi validation",
        {"error": "Input validation error: too long", "error_type": "validation"},
        422,
        400,
        "model_validation_error",
    ),
    ("tgi generation", {"error": "CUDA OOM", "error_type": "generation"}, 424, 502, "model_error"),
    ("tgi overloaded", {"error": "Model is overloaded", "error_type": "overloaded"}, 429, 429, "model_overloaded"),
    ("tgi stream event, no status", {"error": "CUDA OOM", "error_type": "generation"}, None, 502, "model_error"),
    (
        "tgi stream validation",
        {"error": "Input validation error: x", "error_type": "validation"},
        None,
        400,
        "model_validation_error",
    ),
    (
        "tgi chat stream",
        {"error": {"message": "Request failed during generation", "http_status_code": 422}},
        None,
        502,
        "model_error",
    ),
    (
        "tgi chat stream validation",
        {"error": {"message": "Input validation error: x", "http_status_code": 422}},
        None,
        400,
        "model_validation_error",
    ),
    (
        "vllm 400",
        {"error": {"message": "max_tokens too large", "type": "BadRequestError", "param": "max_tokens", "code": 400}},
        400,
        400,
        "model_validation_error",
    ),
    (
        "vllm 404",
        {"error": {"message": "The model `x` does not exist.", "type": "NotFoundError", "param": "model", "code": 404}},
        404,
        502,
        "model_mismatch",
    ),
    (
        "vllm 500 in a stream",
        {"error": {"message": "engine dead", "type": "InternalServerError", "param": None, "code": 500}},
        None,
        502,
        "model_error",
    ),
    (
        "vllm before 0.10 (flat)",
        {"object": "error", "message": "bad", "type": "BadRequestError", "param": None, "code": 400},
        None,
        400,
        "model_validation_error",
    ),
    (
        "vllm 503",
        {"error": {"message": "not ready", "type": "ServiceUnavailable", "param": None, "code": 503}},
        503,
        503,
        "endpoint_not_ready",
    ),
]


@pytest.mark.parametrize(("case", "body", "status", "expected", "code"), CASES, ids=[c[0] for c in CASES])
def test_engine_error_shapes(case: str, body: dict[str, Any], status: int | None, expected: int, code: str) -> None:
    error = engine_error(body, status)
    assert (error.status, error.code) == (expected, code)
    inner = body["error"] if isinstance(body.get("error"), (dict, str)) else body
    text = inner if isinstance(inner, str) else inner["message"]
    assert text in error.message or error.status == 429
    assert set(error.body()["error"]) == {"message", "type", "param", "code"}


def test_vllm_param_is_named() -> None:
    body = {"error": {"message": "bad", "type": "BadRequestError", "param": "max_tokens", "code": 400}}
    assert engine_error(body).param == "max_tokens"
