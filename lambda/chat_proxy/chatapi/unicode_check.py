"""Lone UTF-16 surrogates: valid JSON (``"\\ud800"``), but not Unicode text, so not encodable as UTF-8.

Python's JSON parser accepts them and pydantic's ``str`` too; the request would then fail only when the proxy
encodes the engine's body (a 500). The body is checked once, before any route runs, so every route answers 400
naming where the bad string is. Only bodies that contain a ``\\uD8xx``-``\\uDFxx`` escape are parsed here.
"""

from __future__ import annotations

import json
import re
from typing import Any

from chatapi.errors import ApiError

_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _find(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if _find(key, where) is not None:
                return where
            if (found := _find(item, where)) is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if (found := _find(item, f"{path}[{i}]")) is not None:
                return found
    return None


def lone_surrogate_error(body: bytes) -> ApiError | None:
    """A 400 when the JSON ``body`` holds a string with a lone surrogate; None otherwise (also for bad JSON,
    which the route's own parsing reports)."""
    if not _SURROGATE_ESCAPE.search(body):
        return None
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return None
    try:
        where = _find(parsed, "")
    except RecursionError:  # nested past the limit: the route's own parsing refuses it
        return None
    if where is None:
        return None
    where = where.encode("utf-8", "backslashreplace").decode()  # a bad key name is shown escaped
    return ApiError(
        400,
        f"Invalid value for '{where}': the string holds a lone UTF-16 surrogate escape (e.g. \\ud800), which is "
        "not valid Unicode text.",
        param=where or None,
        code="invalid_encoding",
    )
