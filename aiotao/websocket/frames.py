"""A server's websocket frame for a message, as bytes, built once per broadcast.

A server sends its frames unmasked (RFC 6455 section 5.1), so without
permessage-deflate the frame of a message is the same bytes on every
connection: a broadcast to 1,000 clients can build it once and write those
bytes 1,000 times, instead of encoding the text and assembling a header for
each client.  :func:`server_frame` remembers the last message it framed, by
identity: the members of a group are handed the very same object.

>>> server_frame('Hello')           # RFC 6455 section 5.7's first example
b'\\x81\\x05Hello'
>>> server_frame(b'\\x00' * 200)[:4]  # binary, 16-bit length
b'\\x82~\\x00\\xc8'

No socket here: a transport that knows its connection sends uncompressed
frames (:meth:`~aiotao.serving.gunicorn.transport.AiohttpWebsocketTransport.send_now`)
writes these bytes itself.
"""

from __future__ import annotations

import struct

from aiotao.websocket.transport import Message

__all__ = ['server_frame']

# FIN and the opcode (RFC 6455 section 5.2): the whole message in one frame
_FIN_TEXT = 0x81
_FIN_BINARY = 0x82
_PACK_SHORT = struct.Struct('!BB').pack
_PACK_MEDIUM = struct.Struct('!BBH').pack
_PACK_LONG = struct.Struct('!BBQ').pack

# The last message framed and its frame.  Holding the message keeps its id
# from being reused by another object, which makes the identity check
# sound; it is one message, the size of the last broadcast.
_last: tuple[Message, bytes] = ('', b'\x81\x00')


def server_frame(data: Message) -> bytes:
    """The unmasked, uncompressed frame of ``data`` (text for ``str``, binary for ``bytes``)."""
    global _last
    last = _last
    if last[0] is data:
        return last[1]
    if isinstance(data, str):
        payload, first_byte = data.encode('utf-8'), _FIN_TEXT
    else:
        payload, first_byte = bytes(data), _FIN_BINARY
    length = len(payload)
    if length < 126:
        header = _PACK_SHORT(first_byte, length)
    elif length < 65536:
        header = _PACK_MEDIUM(first_byte, 126, length)
    else:
        header = _PACK_LONG(first_byte, 127, length)
    frame = header + payload
    _last = (data, frame)
    return frame
