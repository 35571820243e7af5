"""The emulator's event-stream encoder, proven with botocore's own decoder."""

from __future__ import annotations

import json

import pytest
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer
from sagemaker_runtime_emulator import encode_message, exception_event, payload_part


def decode(data: bytes) -> list:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return list(buffer)


def test_payload_part_round_trips_through_botocore() -> None:
    (message,) = decode(payload_part(b'data:{"x":1}\n\n'))
    assert message.headers == {
        ":event-type": "PayloadPart",
        ":content-type": "application/octet-stream",
        ":message-type": "event",
    }
    assert message.payload == b'data:{"x":1}\n\n'


def test_several_messages_split_at_every_byte_decode_in_order() -> None:
    data = payload_part(b"one") + payload_part("\u00e9".encode()) + payload_part(b"")
    for cut in range(len(data) + 1):
        buffer = EventStreamBuffer()
        buffer.add_data(data[:cut])
        messages = list(buffer)
        buffer.add_data(data[cut:])
        messages += list(buffer)
        assert [m.payload for m in messages] == [b"one", "\u00e9".encode(), b""]


def test_exception_event_carries_type_and_json_body() -> None:
    (message,) = decode(exception_event("ModelStreamError", "broken", "StreamBroken"))
    assert message.headers[":message-type"] == "exception"
    assert message.headers[":exception-type"] == "ModelStreamError"
    assert json.loads(message.payload) == {"Message": "broken", "ErrorCode": "StreamBroken"}


def test_corrupted_message_fails_botocore_crc_check() -> None:
    data = bytearray(encode_message({":message-type": "event"}, b"payload"))
    data[-6] ^= 0xFF
    with pytest.raises(ChecksumMismatch):
        decode(bytes(data))
