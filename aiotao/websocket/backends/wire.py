"""How a broadcast travels through a byte-oriented broker (Redis pub/sub).

A payload is the publishing process's origin id, one byte saying text or
binary, and the message (UTF-8 for text), so that a ``str`` arrives as a
``str`` and ``bytes`` as ``bytes``::

    >>> origin = bytes(16)
    >>> decode(encode(origin, 'héllo')) == (origin, 'héllo')
    True
    >>> decode(encode(origin, b'\\x00\\xff'))[1]
    b'\\x00\\xff'

Anything else on the channel (another program publishing there) is a
:exc:`ForeignPayload`, which the backend logs and skips.
"""

from __future__ import annotations

from aiotao.websocket.transport import Message

__all__ = ['ORIGIN_SIZE', 'ForeignPayload', 'decode', 'encode']

#: Bytes of a process's random origin id (``os.urandom``).
ORIGIN_SIZE = 16
_TEXT = 0x74  # 't'
_BINARY = 0x62  # 'b'
_HEADER = ORIGIN_SIZE + 1


class ForeignPayload(ValueError):
    """A payload that aiotao did not publish."""


def encode(origin: bytes, message: Message) -> bytes:
    """The payload for ``message`` published by the process ``origin``."""
    if isinstance(message, str):
        return b''.join((origin, b't', message.encode('utf-8')))
    return b''.join((origin, b'b', message))


def decode(payload: bytes) -> tuple[bytes, Message]:
    """``(origin, message)`` from a payload made by :func:`encode`.

    >>> decode(b'hello')
    Traceback (most recent call last):
    ...
    aiotao.websocket.backends.wire.ForeignPayload: 5 bytes, too short for an aiotao broadcast
    """
    if len(payload) < _HEADER:
        raise ForeignPayload(f'{len(payload)} bytes, too short for an aiotao broadcast')
    kind = payload[ORIGIN_SIZE]
    data = payload[_HEADER:]
    if kind == _BINARY:
        return payload[:ORIGIN_SIZE], data
    if kind == _TEXT:
        try:
            return payload[:ORIGIN_SIZE], data.decode('utf-8')
        except UnicodeDecodeError:
            raise ForeignPayload('a text broadcast that is not UTF-8') from None
    raise ForeignPayload(f'unknown kind byte {kind:#04x}')
