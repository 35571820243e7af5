"""``MODEL_ROUTES`` is read once at start-up: a valid map keeps its order; a bad one is a ``SettingsError`` naming
the entry and what is wrong (the Lambda then fails at init, not per request)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from chatapi.settings import SettingsError, load_settings

CHAT = {"component": "chat-ic", "kind": "chat", "engine": "vllm"}


def settings_with(routes: Any) -> Any:
    raw = routes if isinstance(routes, str) else json.dumps(routes)
    return load_settings({"SAGEMAKER_ENDPOINT_NAME": "e", "MODEL_ROUTES": raw})


def test_unset_is_the_single_model() -> None:
    assert load_settings({"SAGEMAKER_ENDPOINT_NAME": "e"}).model_routes == ()


def test_a_map_keeps_its_order_and_optional_keys() -> None:
    routes = {
        "b-model": {**CHAT, "context_length": 8192},
        "a-adapter": {"component": "a-ic", "kind": "chat", "engine": "vllm", "base": "b-model"},
        "emb": {"component": "emb-ic", "kind": "embedding", "engine": "vllm"},
    }
    parsed = settings_with(routes).model_routes
    assert [name for name, _ in parsed] == ["b-model", "a-adapter", "emb"]
    assert parsed[0][1].context_length == 8192 and parsed[1][1].base == "b-model"


BAD: dict[str, tuple[Any, str]] = {
    "not JSON": ("{", r"MODEL_ROUTES is not JSON"),
    "a list": ([CHAT], r"must be a non-empty JSON object"),
    "empty": ({}, r"must be a non-empty JSON object"),
    "an entry that is not an object": ({"m": "chat-ic"}, r"MODEL_ROUTES\['m'\]: expected an object"),
    "missing component": ({"m": {"kind": "chat", "engine": "vllm"}}, r"MODEL_ROUTES\['m'\]: component: Field required"),
    "unknown kind": ({"m": {**CHAT, "kind": "rerank"}}, r"MODEL_ROUTES\['m'\]: kind: Input should be 'chat' or"),
    "unknown engine": ({"m": {**CHAT, "engine": "sglang"}}, r"MODEL_ROUTES\['m'\]: engine"),
    "bad component name": ({"m": {**CHAT, "component": "chat_ic"}}, r"MODEL_ROUTES\['m'\]: component: String should"),
    "component too long": ({"m": {**CHAT, "component": "c" * 64}}, r"MODEL_ROUTES\['m'\]: component"),
    "unknown key": ({"m": {**CHAT, "colour": "red"}}, r"MODEL_ROUTES\['m'\]: colour: Extra inputs"),
    "zero context": ({"m": {**CHAT, "context_length": 0}}, r"MODEL_ROUTES\['m'\]: context_length"),
    "embeddings on TGI": (
        {"e": {"component": "e-ic", "kind": "embedding", "engine": "tgi"}},
        r"MODEL_ROUTES\['e'\]: an embedding model needs engine 'vllm'",
    ),
    "unknown prompt family": ({"m": {**CHAT, "prompt_family": "gpt"}}, r"MODEL_ROUTES\['m'\].prompt_family"),
    "one component, two kinds": (
        {"m": CHAT, "n": {**CHAT, "kind": "embedding"}},
        r"MODEL_ROUTES\['n'\]: component 'chat-ic' is also 'm'",
    ),
    "blank name": ({" ": CHAT}, r"MODEL_ROUTES\[' '\]: a model name"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_map_names_the_entry(case: str) -> None:
    routes, message = BAD[case]
    with pytest.raises(SettingsError, match=message):
        settings_with(routes)
