"""The Redis payload: origin, type and message survive the trip."""

from __future__ import annotations

import os

import pytest

from aiotao.websocket.backends.wire import ORIGIN_SIZE, ForeignPayload, decode, encode


@pytest.mark.parametrize(
    'message', ['', 'hello', 'snow ☃ and \x00', b'', b'\x00\xff' * 100]
)
def test_round_trip_keeps_str_and_bytes_apart(message: str | bytes) -> None:
    origin = os.urandom(ORIGIN_SIZE)
    assert decode(encode(origin, message)) == (origin, message)
    assert type(decode(encode(origin, message))[1]) is type(message)


@pytest.mark.parametrize(
    ('payload', 'reason'),
    [
        (b'hello', 'too short'),
        (bytes(ORIGIN_SIZE) + b'x' + b'data', 'unknown kind byte 0x78'),
        (bytes(ORIGIN_SIZE) + b't' + b'\xff\xfe', 'not UTF-8'),
    ],
)
def test_foreign_payloads_are_refused(payload: bytes, reason: str) -> None:
    with pytest.raises(ForeignPayload, match=reason):
        decode(payload)
