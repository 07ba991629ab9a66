"""An in-memory websocket "network": two queues and the server's transport over them.

:class:`MemoryWebsocketTransport` is a
:class:`~aiotao.websocket.transport.WebsocketTransport` like the aiohttp and
ASGI ones: the application's real
:class:`~aiotao.websocket.connection.WebsocketConnection` runs on it.  The
other end of the :class:`Pipe` is the test's
:class:`~aiotao.testing.websocket.WebsocketTestSession`.  It behaves as
aiotao's worker does where a test can tell:

* a message over ``max_message_size`` closes with 1009, and (as aiohttp
  does) the close frame carries no reason;
* the server's close frame wakes a reader waiting in ``receive()``, as the
  closing handshake does;
* what the server sends waits in the client's receive buffer
  (:data:`RECEIVE_BUFFER_SIZE` bytes, standing in for socket buffers); past
  it, ``send()`` waits until the test reads (flow control), so a client that
  stops reading is dropped as too slow, as on a network.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiotao.websocket.exceptions import ConnectionClosed, HandshakeError, InvalidState
from aiotao.websocket.handshake import handshake_problem
from aiotao.websocket.limits import DEFAULT_LIMITS, Limits, exceeds
from aiotao.websocket.transport import Message, WebsocketTransport

__all__ = [
    'ABNORMAL',
    'RECEIVE_BUFFER_SIZE',
    'Close',
    'MemoryWebsocketTransport',
    'Pipe',
]

#: Bytes the server may send ahead of what the test has read; past it, the
#: server's ``send()`` waits (flow control), as on a socket whose buffers
#: are full.
RECEIVE_BUFFER_SIZE = 4 * 1024 * 1024

#: The code of a connection that ended without a close frame.
ABNORMAL = 1006
_TOO_BIG = 1009


@dataclass(frozen=True, slots=True)
class Close:
    """A close frame (or, with 1006, the connection dropped without one)."""

    code: int
    reason: str


class Pipe:
    """Both directions of one in-memory connection."""

    def __init__(self) -> None:
        self.to_server: asyncio.Queue[Message | Close] = asyncio.Queue()
        self.to_client: asyncio.Queue[Message | Close] = asyncio.Queue()
        #: Bytes in ``to_client`` the test has not read yet.
        self.buffered = 0
        self.drained = asyncio.Event()
        self.drained.set()
        #: The server's close frame, once sent.
        self.server_close: Close | None = None
        #: The client dropped the connection (no close handshake).
        self.client_gone = False
        #: The server dropped the connection.
        self.server_gone = False

    def taken_by_client(self, message: Message) -> None:
        """The test read ``message``: it leaves the receive buffer."""
        self.buffered -= len(message)
        if self.buffered <= RECEIVE_BUFFER_SIZE:
            self.drained.set()


class MemoryWebsocketTransport(WebsocketTransport):
    """The server side of an in-memory websocket; see the module documentation."""

    def __init__(self, pipe: Pipe, environ: Mapping[str, Any]) -> None:
        self._pipe = pipe
        self._environ = environ
        self._limits = DEFAULT_LIMITS
        self._accepted = asyncio.Event()
        self._receive_ended = False
        self._close_sent = False
        #: The subprotocol the view agreed to.
        self.subprotocol: str | None = None

    @property
    def limits(self) -> Limits:
        """The limits the view's connection accepted with."""
        return self._limits

    async def accept(
        self, subprotocol: str | None = None, limits: Limits = DEFAULT_LIMITS
    ) -> None:
        if self.accepted:
            raise InvalidState('the websocket handshake was already accepted')
        problem = handshake_problem(self._environ)
        if problem is not None:
            raise HandshakeError(problem)
        if self._pipe.client_gone:
            raise ConnectionClosed(ABNORMAL, 'the client left during the handshake')
        self._limits = limits
        self.subprotocol = subprotocol
        self.accepted = True
        self._accepted.set()

    async def wait_accepted(self) -> None:
        """Return once the view accepted the handshake."""
        await self._accepted.wait()

    async def receive(self) -> Message | None:
        if not self.accepted:
            raise InvalidState('receive() before the handshake was accepted')
        if self._receive_ended:
            return None
        item = await self._pipe.to_server.get()
        if isinstance(item, Close):
            # the client's close frame, the client gone, or (after our own
            # close) the wake-up of a reader: the first close decides
            self._receive_ended = True
            self._record(item.code, item.reason)
            return None
        if exceeds(item, self._limits.max_message_size):
            self._receive_ended = True
            self._record(_TOO_BIG, 'message too big')
            # aiotao's worker (aiohttp) sends this close frame without a reason
            self._send_close(_TOO_BIG, '')
            return None
        return item

    async def send(self, data: Message) -> None:
        if not self.accepted:
            raise InvalidState('send() before the handshake was accepted')
        pipe = self._pipe
        if pipe.client_gone and self._close_code is None:
            self._record(ABNORMAL, 'connection lost')
        if self._close_sent or self._receive_ended or pipe.client_gone:
            raise ConnectionClosed(self._close_code or ABNORMAL, self._close_reason)
        pipe.to_client.put_nowait(data)
        pipe.buffered += len(data)
        # a socket takes the bytes, then the writer waits while its buffer
        # is over the high-water mark
        while pipe.buffered > RECEIVE_BUFFER_SIZE and not pipe.client_gone:
            pipe.drained.clear()
            await pipe.drained.wait()

    async def close(self, code: int = 1000, reason: str = '') -> None:
        if not self.accepted or self._close_sent:
            return
        self._record(code, reason)
        self._send_close(code, reason)

    def _send_close(self, code: int, reason: str) -> None:
        self._close_sent = True
        pipe = self._pipe
        if not pipe.client_gone and not pipe.server_gone:
            pipe.server_close = Close(code, reason)
            pipe.to_client.put_nowait(pipe.server_close)
        # wakes the connection's reader, as the closing handshake would
        pipe.to_server.put_nowait(Close(code, reason))

    def abort(self) -> None:
        pipe = self._pipe
        if pipe.server_gone or pipe.client_gone:
            return
        pipe.server_gone = True
        self._record(ABNORMAL, '')
        pipe.to_client.put_nowait(Close(ABNORMAL, ''))
        pipe.to_server.put_nowait(Close(ABNORMAL, ''))
