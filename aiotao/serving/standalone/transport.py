"""Websocket transport over the ``websockets`` library's asyncio server.

What :mod:`aiotao.serving.standalone` serves with (``aiotao serve-ws``).
The ``websockets`` server does the protocol: frames, permessage-deflate,
the message size limit, keepalive pings and the closing handshake.

Its server completes the handshake *before* calling a handler, while
aiotao's pipeline decides on it *inside* the view: so the standalone server
runs the pipeline from ``process_request``, and the two meet here::

    # process_request(connection, request):
    transport = WebsocketsTransport(connection, environ)
    pipeline = create_task(run_upgrade(router, environ, transport))  # accept()
    await first_of(pipeline, transport.accept_requested)
    # accept requested: return None, websockets sends 101, then calls
    # handler(connection):
    transport.opened()             # accept() returns, the view goes on
    await pipeline                 # the whole session

    # or the pipeline answered (403, 404...): send that response instead

The limits of :meth:`accept` (``max_message_size``, ``ping_interval``,
``ping_timeout``, ``close_timeout``) are applied to the connection before
the handshake completes, so websockets enforces them for this connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed as LibraryConnectionClosed
from websockets.protocol import OPEN

from aiotao.websocket.exceptions import ConnectionClosed, HandshakeError, InvalidState
from aiotao.websocket.handshake import handshake_problem
from aiotao.websocket.limits import DEFAULT_LIMITS, Limits
from aiotao.websocket.transport import Message, WebsocketTransport

__all__ = ['WebsocketsTransport']

_ABNORMAL = 1006
# More than a frame header (at most 14 bytes) and a deflate block's framing.
_FRAME_OVERHEAD = 64


class WebsocketsTransport(WebsocketTransport):
    """The websocket side of one ``websockets`` server connection."""

    def __init__(
        self, connection: ServerConnection, environ: Mapping[str, Any]
    ) -> None:
        self.connection = connection
        self.environ = environ
        #: The subprotocol the view agreed to (the server's
        #: ``select_subprotocol`` reads it).
        self.subprotocol: str | None = None
        loop = asyncio.get_running_loop()
        #: Done once the view called :meth:`accept`: the server may answer 101.
        self.accept_requested: asyncio.Future[None] = loop.create_future()
        self._opened: asyncio.Future[None] = loop.create_future()
        self._limits = DEFAULT_LIMITS
        self._receive_ended = False

    # -- the server's side of the handshake --------------------------------

    def opened(self) -> None:
        """The server sent the 101: :meth:`accept` returns."""
        if not self._opened.done():
            self._opened.set_result(None)

    def refused(self, why: str) -> None:
        """The server answered something else than 101: :meth:`accept` raises."""
        if not self._opened.done():
            self._opened.set_exception(HandshakeError(why))

    # -- WebsocketTransport -------------------------------------------------

    async def accept(
        self, subprotocol: str | None = None, limits: Limits = DEFAULT_LIMITS
    ) -> None:
        if self.accept_requested.done():
            raise InvalidState('the websocket handshake was already accepted')
        problem = handshake_problem(self.environ)
        if problem is not None:
            raise HandshakeError(problem)
        connection = self.connection
        connection.protocol.max_message_size = limits.max_message_size
        connection.ping_interval = limits.ping_interval
        connection.ping_timeout = limits.ping_timeout
        connection.close_timeout = limits.close_timeout
        self.subprotocol = subprotocol
        self._limits = limits
        self.accept_requested.set_result(None)
        # the 101 is sent, or the client left before (the handler is then
        # never called: the connection's end is what tells)
        lost = asyncio.ensure_future(connection.wait_closed())
        try:
            await asyncio.wait(
                {self._opened, lost}, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            lost.cancel()
        if not self._opened.done():
            raise ConnectionClosed(_ABNORMAL, 'the client left during the handshake')
        self._opened.result()  # HandshakeError if the server refused
        self.accepted = True

    async def receive(self) -> Message | None:
        if not self.accepted:
            raise InvalidState('receive() before the handshake was accepted')
        if self._receive_ended:
            return None
        try:
            # websockets' recv() is safe to cancel: no message is lost
            return await self.connection.recv()
        except LibraryConnectionClosed as exc:
            self._receive_ended = True
            self._record_closed(exc)
            return None

    async def send(self, data: Message) -> None:
        if not self.accepted:
            raise InvalidState('send() before the handshake was accepted')
        try:
            await self.connection.send(data)
        except LibraryConnectionClosed as exc:
            self._record_closed(exc)
            raise ConnectionClosed(
                self._close_code or _ABNORMAL, self._close_reason
            ) from None

    def send_may_wait(self, data: Message) -> bool:
        """``False`` while the connection is open and ``data`` fits in the buffer.

        websockets' ``send()`` waits only for a closing connection or once
        the transport paused writing, which it does above the high-water
        mark (``write_limit``).
        """
        connection = self.connection
        if connection.protocol.state is not OPEN or connection.paused:
            return True
        # an upper bound of the frame: UTF-8 takes at most 4 bytes per
        # character, deflate adds a little, the header at most 14 bytes
        size = len(data) * (4 if isinstance(data, str) else 1)
        frame = size + size // 64 + _FRAME_OVERHEAD
        transport = connection.transport
        high_water = transport.get_write_buffer_limits()[1]
        return transport.get_write_buffer_size() + frame > high_water

    async def close(self, code: int = 1000, reason: str = '') -> None:
        if not self.accepted:
            return
        self._record(code, reason)
        try:
            # websockets bounds the wait for the client's reply, not a close
            # frame stuck behind data a slow client does not read
            async with asyncio.timeout(self._limits.close_timeout):
                await self.connection.close(code, reason)  # idempotent
        except TimeoutError:
            self.abort()

    def abort(self) -> None:
        transport = self.connection.transport
        if transport is not None:
            transport.abort()

    def _record_closed(self, exc: LibraryConnectionClosed) -> None:
        """Record the first close frame: the client's, or the server's own."""
        first = exc.rcvd if exc.rcvd_then_sent or exc.sent is None else exc.sent
        if first is None:
            self._record(_ABNORMAL, '')
        else:
            self._record(first.code, first.reason)
