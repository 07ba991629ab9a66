"""The frame a server sends for a message (RFC 6455 section 5.2), built once per broadcast."""

from __future__ import annotations

import struct

import pytest

from aiotao.websocket.frames import server_frame


@pytest.mark.parametrize(
    'length, header',
    [
        (0, b'\x82\x00'),
        (125, b'\x82\x7d'),
        (126, b'\x82\x7e' + struct.pack('!H', 126)),
        (65535, b'\x82\x7e' + struct.pack('!H', 65535)),
        (65536, b'\x82\x7f' + struct.pack('!Q', 65536)),
    ],
)
def test_a_binary_message_is_one_final_unmasked_frame(
    length: int, header: bytes
) -> None:
    payload = bytes(range(256)) * (length // 256) + bytes(length % 256)
    assert server_frame(payload) == header + payload


def test_text_is_sent_as_utf8_in_a_text_frame() -> None:
    text = 'héllo ' * 30  # 210 bytes of UTF-8 for 180 characters
    assert server_frame(text) == b'\x81\x7e\x00\xd2' + text.encode('utf-8')


def test_each_message_gets_its_own_frame() -> None:
    # the last frame is remembered for the very same message only
    assert server_frame('one') == b'\x81\x03one'
    assert server_frame('two') == b'\x81\x03two'
    assert server_frame(b'two') == b'\x82\x03two'
    same = ''.join(['tw', 'o'])  # equal, not the same object
    assert server_frame(same) == b'\x81\x03two'
