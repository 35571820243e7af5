"""The SSE parser over PayloadPart bytes: every split point, UTF-8, line endings, comments, [DONE], errors."""

from __future__ import annotations

import itertools
import random

from chatapi.sse import SseEvent, SseParser

STREAM = (
    ':keep-alive\n\ndata:{"token":{"text":"h\u00e9llo \U0001f600"}}\n\n'
    'data: {"token":{"text":"\u4e16\u754c"}}\r\n\r\n'
    ': ping\r\ndata:{"error":"boom","error_type":"generation"}\r\rdata:[DONE]\n\n'
).encode()
EXPECTED = [
    SseEvent('{"token":{"text":"h\u00e9llo \U0001f600"}}'),
    SseEvent('{"token":{"text":"\u4e16\u754c"}}'),
    SseEvent('{"error":"boom","error_type":"generation"}'),
    SseEvent("[DONE]"),
]


def parse(chunks: list[bytes]) -> list[SseEvent]:
    parser = SseParser()
    events = [e for chunk in chunks for e in parser.feed(chunk)]
    return events + parser.close()


def test_whole_stream_parses_every_event() -> None:
    assert parse([STREAM]) == EXPECTED


def test_every_single_split_point_gives_the_same_events() -> None:
    for cut in range(len(STREAM) + 1):
        assert parse([STREAM[:cut], STREAM[cut:]]) == EXPECTED, cut


def test_one_byte_at_a_time_gives_the_same_events() -> None:
    assert parse([STREAM[i : i + 1] for i in range(len(STREAM))]) == EXPECTED


def test_random_multi_way_splits_give_the_same_events() -> None:
    rng = random.Random(1234)
    for _ in range(300):
        cuts = sorted(rng.sample(range(1, len(STREAM)), rng.randint(1, 12)))
        bounds = [0, *cuts, len(STREAM)]
        assert parse([STREAM[a:b] for a, b in itertools.pairwise(bounds)]) == EXPECTED, cuts


def test_multiple_data_lines_join_with_newline() -> None:
    assert parse([b"data: a\ndata:b\n\n"]) == [SseEvent("a\nb")]


def test_event_field_is_kept_and_unknown_fields_ignored() -> None:
    assert parse([b"event: error\nid: 7\nretry: 10\ndata: x\n\n"]) == [SseEvent("x", event="error")]


def test_comment_only_stream_gives_no_events() -> None:
    assert parse([b":\n\n: keep-alive\n\n"]) == []


def test_unterminated_final_event_is_delivered_at_close() -> None:
    assert parse([b'data:{"a":1}']) == [SseEvent('{"a":1}')]


def test_cr_at_chunk_end_followed_by_lf_is_one_line_break() -> None:
    assert parse([b"data: a\r", b"\n", b"\r", b"\ndata: b\n\n"]) == [SseEvent("a"), SseEvent("b")]


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    assert parse([b"data: \xff\n\n"]) == [SseEvent("\ufffd")]
