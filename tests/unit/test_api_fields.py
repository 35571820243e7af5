"""docs/api-fields.md, the proxy's field policy (chatapi.policy), its request schemas, OpenAI's OpenAPI document
and vLLM's request models describe the same fields: a field one of them gains is a failing test until the
others say what happens to it. (tests/engine/test_vllm_fields.py checks the committed vLLM field lists against
the installed engine.)"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from chatapi import policy
from chatapi.schemas import ChatCompletionRequest, CompletionRequest

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "tests" / "chat" / "openai-openapi-2.3.0.json.gz"
DOC = ROOT / "docs" / "api-fields.md"
ROUTES = {
    "chat": ("CreateChatCompletionRequest", policy.CHAT_FIELDS, ChatCompletionRequest, policy.VLLM_CHAT_FIELDS),
    "completions": (
        "CreateCompletionRequest",
        policy.COMPLETION_FIELDS,
        CompletionRequest,
        policy.VLLM_COMPLETION_FIELDS,
    ),
}


def _openai_fields(name: str) -> set[str]:
    schemas = json.loads(gzip.decompress(SPEC.read_bytes()))["components"]["schemas"]

    def props(schema: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for part in schema.get("allOf", [schema]):
            if "$ref" in part:
                out.update(props(schemas[part["$ref"].rsplit("/", 1)[-1]]))
            else:
                out.update(part.get("properties", {}))
        return out

    return set(props(schemas[name]))


def _doc_fields(route: str) -> set[str]:
    section = DOC.read_text().split(f"tools/api_fields_doc.py: {route} -->", 1)[1].split("<!-- end", 1)[0]
    return {line.split("`")[1] for line in section.splitlines() if line.startswith("| `")}


@pytest.mark.parametrize("route", ROUTES)
def test_every_openai_field_has_a_rule(route: str) -> None:
    spec_name, table, _, _ = ROUTES[route]
    assert _openai_fields(spec_name) - set(table) == set()


@pytest.mark.parametrize("route", ROUTES)
def test_every_vllm_field_has_a_rule(route: str) -> None:
    _, table, _, vllm_fields = ROUTES[route]
    assert set(vllm_fields) - set(table) == set()


@pytest.mark.parametrize("route", ROUTES)
def test_every_rule_is_a_field_of_openai_or_vllm(route: str) -> None:
    spec_name, table, _, vllm_fields = ROUTES[route]
    legacy = {name for name, rule in table.items() if rule.source == "vLLM < 0.12"}
    assert set(table) - _openai_fields(spec_name) - set(vllm_fields) - legacy == set()


@pytest.mark.parametrize("route", ROUTES)
def test_the_schema_declares_only_fields_with_a_rule(route: str) -> None:
    _, table, model, _ = ROUTES[route]
    assert set(model.model_fields) - set(table) == set()


@pytest.mark.parametrize("route", ROUTES)
def test_the_doc_lists_exactly_the_fields_with_a_rule(route: str) -> None:
    _, table, _, _ = ROUTES[route]
    assert _doc_fields(route) == set(table)


def test_the_doc_tables_are_generated_from_the_policy() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "api_fields_doc.py"), "--check"], check=False)
    assert result.returncode == 0, "docs/api-fields.md is stale: run .venv/bin/python tools/api_fields_doc.py"
