"""Ticket.watch / watch_openai on their own: what a stream's events make the ticket meter, and what the client
still gets, for TGI streams and for OpenAI-protocol (vLLM) streams, whose routes call these hooks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from chatapi.usage import Ticket, Usage, UsageSettings, openai_counts, openai_stream_usage

Events = list[tuple[str, dict[str, Any] | None]]


def ticket() -> Ticket:
    return Ticket(Usage(UsageSettings(), "m"), "alice", None)


def metered(out: str) -> list[tuple[float, float, float]]:
    records = [json.loads(line) for line in out.splitlines() if '"_aws"' in line]
    return [(r["Requests"][0], r["PromptTokens"][0], r["CompletionTokens"][0]) for r in records]


def pairs(*events: dict[str, Any] | None) -> Events:
    return [("[DONE]" if e is None else json.dumps(e), e) for e in events]


def tgi_token(i: int, final: dict[str, Any] | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"index": i, "token": {"id": i, "text": "x", "special": False}}
    event["generated_text"] = "xxx" if final is not None else None
    event["details"] = final
    return event


def test_tgi_final_details_are_metered_once_and_kept(capsys: pytest.CaptureFixture[str]) -> None:
    t = ticket()
    final = {"finish_reason": "length", "generated_tokens": 3, "input_length": 11}
    out = list(t.watch(pairs(tgi_token(1), tgi_token(2), tgi_token(3, final))))
    assert out[-1][1] == tgi_token(3, final)
    t.finish_partial()  # the middleware's safety net: already finished, nothing more
    assert metered(capsys.readouterr().out) == [(1, 11, 3)]


def test_tgi_details_asked_only_for_metering_are_removed(capsys: pytest.CaptureFixture[str]) -> None:
    final = {"finish_reason": "length", "generated_tokens": 2, "input_length": 5}
    *_, (data, event) = ticket().watch(pairs(tgi_token(1), tgi_token(2, final)), keep_details=False)
    assert event is not None and event["details"] is None
    assert json.loads(data)["details"] is None
    assert metered(capsys.readouterr().out) == [(1, 5, 2)]


def test_tgi_error_event_meters_the_tokens_so_far(capsys: pytest.CaptureFixture[str]) -> None:
    list(ticket().watch(pairs(tgi_token(1), tgi_token(2), {"error": "oom", "error_type": "generation"})))
    assert metered(capsys.readouterr().out) == [(1, 0, 2)]


def chunk(content: str | None = None, usage: dict[str, int] | None = None, with_usage: bool = True) -> dict[str, Any]:
    event: dict[str, Any] = {"id": "c", "object": "chat.completion.chunk", "model": "m"}
    event["choices"] = [] if content is None else [{"index": 0, "delta": {"content": content}, "finish_reason": None}]
    if with_usage:
        event["usage"] = usage
    return event


USAGE = {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}


def test_openai_usage_chunk_is_metered_and_kept_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    events = pairs(chunk("a"), chunk("b"), chunk(None, USAGE), None)
    assert list(ticket().watch_openai(events)) == events
    assert metered(capsys.readouterr().out) == [(1, 9, 2)]


def test_openai_usage_asked_only_for_metering_is_removed(capsys: pytest.CaptureFixture[str]) -> None:
    out = list(ticket().watch_openai(pairs(chunk("a"), chunk("b"), chunk(None, USAGE), None), keep_usage=False))
    assert [e for _, e in out] == [chunk("a", with_usage=False), chunk("b", with_usage=False), None]
    assert all("usage" not in json.loads(d) for d, e in out if e is not None)
    assert metered(capsys.readouterr().out) == [(1, 9, 2)]


def test_openai_stream_without_usage_meters_the_chunks_at_done(capsys: pytest.CaptureFixture[str]) -> None:
    list(ticket().watch_openai(pairs(chunk("a", with_usage=False), chunk("b", with_usage=False), None)))
    assert metered(capsys.readouterr().out) == [(1, 0, 2)]


def test_openai_stream_usage_is_requested_and_the_callers_choice_remembered() -> None:
    payload, asked = openai_stream_usage({"messages": [], "stream": True})
    assert (payload["stream_options"], asked) == ({"include_usage": True}, False)
    payload, asked = openai_stream_usage({"stream": True, "stream_options": {"include_usage": True}})
    assert asked is True


def test_openai_counts_tolerate_missing_fields() -> None:
    assert openai_counts(USAGE) == (9, 2)
    assert openai_counts(None) == (0, 0)
    assert openai_counts({"prompt_tokens": "9"}) == (0, 0)
