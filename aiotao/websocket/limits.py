"""How much a websocket connection may cost the server, from the settings.

Every limit has a default that is safe on the open internet and a setting in
the ini to change it::

    [app:main]
    aiotao.websocket.max_message_size = 1048576   # bytes; bigger -> close 1009
    aiotao.websocket.ping_interval = 20           # seconds; 0 disables pings
    aiotao.websocket.ping_timeout = 20            # seconds to wait for the pong
    aiotao.websocket.max_queue = 32               # messages waiting for a slow client
    aiotao.websocket.send_timeout = 10            # seconds ws.send() waits for one
    aiotao.websocket.close_timeout = 10           # seconds to wait for the close reply
    aiotao.websocket.write_buffer = 65536         # bytes waiting in the socket's buffer

A bad value is a :class:`~pyramid.exceptions.ConfigurationError` that names
the setting, raised when the application starts (with
``config.include('aiotao.websocket')``) or at the first websocket request.

Where each limit is enforced:

* ``max_message_size``: by aiohttp's frame reader under aiotao's worker
  (before the message is in memory); under ASGI the server reads the
  message (up to its own limit, uvicorn's ``--ws-max-size``) and aiotao then
  closes with 1009.  Either way ``recv()`` returns ``None`` and
  ``ws.close_code`` is 1009.
* ``ping_interval``/``ping_timeout``: aiohttp's heartbeat under aiotao's
  worker.  ASGI servers ping on their own schedule (uvicorn's
  ``--ws-ping-interval``/``--ws-ping-timeout``): ASGI has no message for it.
* ``max_queue`` and ``send_timeout``: by the connection itself (see
  :mod:`aiotao.websocket.connection`), the same under every server.
* ``write_buffer``: the high-water mark of the connection's socket buffer
  (in the process, above the kernel's) under aiotao's worker, where it is
  also how much aiohttp writes between two checks of it, and the
  ``write_limit`` of ``aiotao serve-ws``.  ASGI servers keep their own.

What a client that stops reading costs
--------------------------------------

A connection whose client reads nothing while the server sends (and that
sends meanwhile) holds at most, under aiotao's worker:

* to send: ``write_buffer`` plus the frame that went over it, plus
  ``max_queue`` messages queued (or the one message ``ws.send()`` waits
  with), until ``send_timeout`` drops the client;
* received and not yet read by the view: aiohttp's receive queue, which
  stops reading from the socket past 512 KiB (twice aiohttp's
  ``DEFAULT_CHUNK_SIZE``; no parameter sets it), plus the message that
  went over it (up to ``max_message_size``) and the rest of the socket
  read it came in (up to 256 KiB, asyncio's and uvloop's read size);
* some 40 KiB of objects (request, response, parser, transport).

The kernel's socket buffers come on top, outside the process.
:meth:`Limits.stalled_connection_bytes` adds it up: with the defaults and
messages of 64 KiB, about 1 MiB a stalled connection
(``tests/reliability/test_slow_clients.py`` checks the worker keeps to it
with 500 of them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiotao.settings import optional, positive_number, read_setting, whole_number

__all__ = [
    'DEFAULT_LIMITS',
    'SETTINGS_PREFIX',
    'Limits',
    'exceeds',
    'limits_from_settings',
]

SETTINGS_PREFIX = 'aiotao.websocket.'

#: Values that switch an optional limit (the pings) off.
_OFF = frozenset({'', '0', 'none', 'off', 'false', 'no'})
_optional_seconds = optional(positive_number, off=_OFF)


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits of one websocket connection.

    >>> Limits().max_message_size
    1048576
    >>> Limits(max_queue=0)
    Traceback (most recent call last):
    ...
    ValueError: max_queue must be at least 1, not 0
    """

    #: Largest message accepted from the client, in bytes.
    max_message_size: int = 1024 * 1024
    #: Seconds of silence from the client before it is pinged; ``None``: no
    #: pings.  (aiotao's worker looks once an interval, so a quiet client is
    #: pinged after one to two intervals: no timer moves per message.)
    ping_interval: float | None = 20.0
    #: Seconds to wait for the pong (or anything) before the connection
    #: counts as dead.
    ping_timeout: float | None = 20.0
    #: Messages that may wait for a client that reads slower than the
    #: server sends; one more and the client is dropped.
    max_queue: int = 32
    #: Seconds ``ws.send()`` waits for its message to reach the socket
    #: before the client is dropped as too slow.
    send_timeout: float = 10.0
    #: Seconds to wait for the client's reply to a close frame.
    close_timeout: float = 10.0
    #: Bytes that may wait in the socket's buffer in the process before a
    #: send waits for the client (see the module).
    write_buffer: int = 64 * 1024

    def stalled_connection_bytes(
        self, message_size: int | None = None, queued: int | None = None
    ) -> int:
        """The most a connection whose client stopped reading holds (aiotao's worker).

        ``message_size``: the size of the messages, both ways (default
        ``max_message_size``); ``queued``: how many of them wait to be sent
        (default ``max_queue``; an echo that awaits each ``ws.send()`` has
        one).  See the module for the parts.

        >>> Limits().stalled_connection_bytes(64 * 1024, queued=1) // 1024
        1064
        """
        message = self.max_message_size if message_size is None else message_size
        waiting = self.max_queue if queued is None else queued
        to_send = self.write_buffer + message + waiting * message
        received = AIOHTTP_RECEIVE_QUEUE + message + SOCKET_READ
        return to_send + received + CONNECTION_OBJECTS

    def __post_init__(self) -> None:
        if self.max_message_size < 1:
            raise ValueError(
                f'max_message_size must be at least 1, not {self.max_message_size}'
            )
        if self.max_queue < 1:
            raise ValueError(f'max_queue must be at least 1, not {self.max_queue}')
        if self.write_buffer < 1024:
            raise ValueError(
                f'write_buffer must be at least 1024 bytes, not {self.write_buffer}'
            )
        for name in ('send_timeout', 'close_timeout'):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f'{name} must be a positive number, not {value}')
        for name in ('ping_interval', 'ping_timeout'):
            value = getattr(self, name)
            if value is not None and not (value > 0 and math.isfinite(value)):
                raise ValueError(f'{name} must be a positive number or None')


#: What aiohttp's receive queue holds before it stops reading the socket
#: (twice its ``DEFAULT_CHUNK_SIZE``, aiohttp 3.10 to 3.14).
AIOHTTP_RECEIVE_QUEUE = 512 * 1024
#: The most one read from a socket brings (asyncio's and uvloop's).
SOCKET_READ = 256 * 1024
#: A connection's objects: request, response, parser, transport, tasks.
CONNECTION_OBJECTS = 40 * 1024

DEFAULT_LIMITS = Limits()


def limits_from_settings(settings: Mapping[str, Any] | None) -> Limits:
    """The :class:`Limits` that ``aiotao.websocket.*`` settings ask for.

    >>> limits_from_settings({'aiotao.websocket.max_queue': '8',
    ...                       'aiotao.websocket.ping_interval': 'off'})
    ... # doctest: +NORMALIZE_WHITESPACE
    Limits(max_message_size=1048576, ping_interval=None, ping_timeout=20.0,
           max_queue=8, send_timeout=10.0, close_timeout=10.0, write_buffer=65536)
    >>> limits_from_settings({'aiotao.websocket.max_message_size': 'lots'})
    Traceback (most recent call last):
    ...
    pyramid.exceptions.ConfigurationError: aiotao.websocket.max_message_size = 'lots': expected a whole number of bytes of at least 1, e.g. 1048576
    """
    settings = settings or {}
    default = DEFAULT_LIMITS
    return Limits(
        max_message_size=read_setting(
            settings,
            SETTINGS_PREFIX + 'max_message_size',
            default.max_message_size,
            whole_number(1),
            'a whole number of bytes of at least 1, e.g. 1048576',
        ),
        ping_interval=read_setting(
            settings,
            SETTINGS_PREFIX + 'ping_interval',
            default.ping_interval,
            _optional_seconds,
            'a number of seconds, or 0 to disable pings',
        ),
        ping_timeout=read_setting(
            settings,
            SETTINGS_PREFIX + 'ping_timeout',
            default.ping_timeout,
            _optional_seconds,
            'a number of seconds, or 0 to wait for pongs forever',
        ),
        max_queue=read_setting(
            settings,
            SETTINGS_PREFIX + 'max_queue',
            default.max_queue,
            whole_number(1),
            'a whole number of messages of at least 1, e.g. 32',
        ),
        send_timeout=read_setting(
            settings,
            SETTINGS_PREFIX + 'send_timeout',
            default.send_timeout,
            positive_number,
            'a positive number of seconds, e.g. 10',
        ),
        close_timeout=read_setting(
            settings,
            SETTINGS_PREFIX + 'close_timeout',
            default.close_timeout,
            positive_number,
            'a positive number of seconds, e.g. 10',
        ),
        write_buffer=read_setting(
            settings,
            SETTINGS_PREFIX + 'write_buffer',
            default.write_buffer,
            whole_number(1024),
            'a whole number of bytes of at least 1024, e.g. 65536',
        ),
    )


def exceeds(message: str | bytes, max_size: int) -> bool:
    """``True`` if ``message`` is over ``max_size`` bytes (text counts as UTF-8).

    >>> exceeds('é' * 3, 5), exceeds(b'12345', 5)
    (True, False)
    """
    size = len(message)
    if isinstance(message, str) and size <= max_size < 4 * size:
        # a character is 1 to 4 bytes in UTF-8: encode only when in doubt
        size = len(message.encode('utf-8', 'surrogatepass'))
    return size > max_size
