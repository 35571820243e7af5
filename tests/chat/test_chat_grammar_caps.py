"""Caps on the grammars a request makes the engine compile (issue 17, Low): tool count, schema size and depth,
regex patterns with nested or huge repeats; refused with a 400 naming the field before the engine is called."""

from __future__ import annotations

from typing import Any

import pytest
from chatapi.app import create_app
from chatapi.errors import ApiError
from chatapi.grammar import MAX_SCHEMA_BYTES, MAX_SCHEMA_DEPTH, MAX_TOOLS, check_grammars, check_pattern
from chatapi.settings import load_settings
from fastapi.testclient import TestClient

USER = [{"role": "user", "content": "Hi"}]


def tool(name: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "parameters": parameters}}


@pytest.mark.parametrize(
    "pattern",
    [
        "(x+x+)+y",
        "(a*)*",
        "(a+)+$",
        "^(\\w+\\s?)*$",
        "(a{1,200}){1,200}",
        "a{100000}",
        "((ab)*c)+",
        "(?:x+)*",
        "(",  # unparsable
        "a" * 1001,
    ],
)
def test_catastrophic_or_oversized_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(ApiError) as info:
        check_pattern(pattern, "p")
    assert (info.value.status, info.value.code) == (400, "grammar_too_complex")


@pytest.mark.parametrize(
    "pattern", ["^[A-Z]{2}[0-9]{4}$", "\\d{3}-\\d{4}", "^(red|green|blue)$", "[a-z]+@[a-z]+\\.com", "(ab){2}c?"]
)
def test_ordinary_patterns_pass(pattern: str) -> None:
    check_pattern(pattern, "p")


def test_a_pattern_deep_in_a_tool_schema_is_found_and_named() -> None:
    schema = {"type": "object", "properties": {"code": {"type": "string", "pattern": "(x+x+)+y"}}}
    with pytest.raises(ApiError) as info:
        check_grammars({"tools": [tool("ok", {"type": "object"}), tool("bad", schema)]})
    assert info.value.param == "tools[1].function.parameters.properties.code.pattern"


def test_pattern_properties_keys_are_patterns() -> None:
    schema = {"type": "object", "patternProperties": {"(a+)+": {"type": "string"}}}
    with pytest.raises(ApiError, match="repeat inside a repeat"):
        check_grammars({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}})


def test_too_many_tools_are_refused() -> None:
    with pytest.raises(ApiError, match=f"at most {MAX_TOOLS} tools"):
        check_grammars({"tools": [tool(f"t{i}", {"type": "object"}) for i in range(MAX_TOOLS + 1)]})
    check_grammars({"tools": [tool(f"t{i}", {"type": "object"}) for i in range(MAX_TOOLS)]})


def test_deep_schemas_are_refused() -> None:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(MAX_SCHEMA_DEPTH):
        schema = {"type": "object", "properties": {"x": schema}}
    with pytest.raises(ApiError, match=f"nested deeper than {MAX_SCHEMA_DEPTH}"):
        check_grammars({"tools": [tool("deep", schema)]})


def test_large_schemas_are_refused_together() -> None:
    half = {"type": "object", "description": "x" * (MAX_SCHEMA_BYTES // 2)}
    check_grammars({"tools": [tool("a", half)]})
    with pytest.raises(ApiError, match=f"exceed {MAX_SCHEMA_BYTES} bytes"):
        check_grammars({"tools": [tool("a", half), tool("b", half)]})


class Recorder:
    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []

    def invoke(self, payload: dict[str, Any]) -> Any:
        self.payloads.append(payload)
        message = {"role": "assistant", "content": "ok"}
        return {"id": "x", "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}


@pytest.mark.parametrize("engine", ["vllm", "tgi"])
def test_the_route_refuses_before_calling_the_engine(engine: str) -> None:
    recorder = Recorder()
    settings = load_settings({"SAGEMAKER_ENDPOINT_NAME": "x", "ENGINE": engine, "PROMPT_FAMILY": "server"})
    schema = {"type": "object", "properties": {"s": {"type": "string", "pattern": "(x+x+)+y"}}}
    body = {
        "messages": USER,
        "response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": schema}},
    }
    with TestClient(create_app(settings, recorder)) as client:  # type: ignore[arg-type]
        response = client.post("/v1/chat/completions", json=body)
        many = client.post(
            "/v1/chat/completions",
            json={"messages": USER, "tools": [tool(f"t{i}", {"type": "object"}) for i in range(100)]},
        )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "response_format.json_schema.schema.properties.s.pattern"
    assert many.status_code == 400 and many.json()["error"]["param"] == "tools"
    assert recorder.payloads == []
