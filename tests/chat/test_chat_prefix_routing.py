"""Prefix-aware routing reads the first bytes of each request body (PrefixAwareRoutingConfig.PrefixLength: "the
number of bytes from the beginning of the request body"): on every ENGINE x PROMPT_FAMILY combination, the next
turn of a conversation must start with the same bytes as the last, up to the end of what they share, whatever
sampling settings change between the calls. Each dialect's payload builder happened to write the conversation
first already; chatapi/backend.py `prefix_first` makes it a rule for every body, which the cross-route test needed."""

from __future__ import annotations

import json

from chat_harness import MODEL_ID
from engine_stacks import Stack

SYSTEM = {"role": "system", "content": "You answer questions about Amazon SageMaker. " * 4}
FIRST = {"role": "user", "content": "What is an inference component, in one line?"}


def sent_bodies(stack: Stack) -> list[bytes]:
    return [r["body"].encode() for r in stack.emulator.requests]


def shared_through(first: bytes, second: bytes, text: str) -> int:
    """The end of `text` (as JSON writes it) in `first`; both bodies must be equal up to there."""
    encoded = json.dumps(text, ensure_ascii=False)[1:-1].encode()
    assert first.count(encoded) == 1, first
    return first.index(encoded) + len(encoded)


def test_the_next_turn_starts_with_the_bytes_of_the_last(stack: Stack) -> None:
    turn_one = {"model": MODEL_ID, "messages": [SYSTEM, FIRST], "stream": True, "max_tokens": 40, "temperature": 0.7}
    with stack.http() as http:
        assert http.post("/v1/chat/completions", json=turn_one).status_code == 200
        answer = {"role": "assistant", "content": "Hello! How can I help?"}
        turn_two = {
            "model": MODEL_ID,
            "messages": [SYSTEM, FIRST, answer, {"role": "user", "content": "And its copies?"}],
            "max_tokens": 12,
            "seed": 7,
        }
        response = http.post("/v1/chat/completions", json=turn_two)
        assert response.status_code == 200, response.text
    first, second = sent_bodies(stack)
    end = shared_through(first, second, FIRST["content"])
    assert second[:end] == first[:end]
    # What differs between the calls comes after the conversation (the body is not merely shorter than `end`).
    assert b'"max_tokens"' not in first[:end] and b'"stream"' not in first[:end]


def test_a_longer_prompt_starts_with_the_bytes_of_the_shorter(stack: Stack) -> None:
    prompt = "Amazon SageMaker hosts models on endpoints. " * 3
    with stack.http() as http:
        for body in (
            {"model": MODEL_ID, "prompt": prompt, "max_tokens": 20, "stream": True},
            {"model": MODEL_ID, "prompt": prompt + "It also scales them to zero.", "max_tokens": 5, "temperature": 0},
        ):
            response = http.post("/v1/completions", json=body)
            assert response.status_code == 200, response.text
    first, second = sent_bodies(stack)
    end = shared_through(first, second, prompt.rstrip())
    assert second[:end] == first[:end]
    assert b'"max_tokens"' not in first[:end] and b'"max_new_tokens"' not in first[:end]


def test_a_prompt_starts_the_body_whichever_route_sent_it(stack: Stack) -> None:
    """The same text through /v1/completions and TGI's /generate reaches the same instance: on vLLM both become a
    completions body, whose fields the two routes used to write in different orders (`model` or `prompt` first)."""
    prompt = "Summarise what an inference component is. " * 3
    with stack.http() as http:
        completions = {"model": MODEL_ID, "prompt": prompt, "max_tokens": 9}
        assert http.post("/v1/completions", json=completions).status_code == 200
        generate = {"inputs": prompt, "parameters": {"max_new_tokens": 4, "temperature": 0.5}}
        assert http.post("/generate", json=generate).status_code == 200
    first, second = sent_bodies(stack)
    end = shared_through(first, second, prompt.rstrip())
    assert second[:end] == first[:end]
