"""Websocket transport over the ASGI websocket protocol (uvicorn, hypercorn...).

The ASGI server does the protocol (frames, pings, the closing handshake);
this module speaks the ASGI messages: ``websocket.connect``,
``websocket.accept``, ``websocket.receive``, ``websocket.send``,
``websocket.close`` and ``websocket.disconnect``.  In an ASGI application::

    async def app(scope, receive, send):
        if scope['type'] == 'websocket':
            transport = AsgiWebsocketTransport(scope, receive, send)
            refusal = await run_upgrade(router, environ, transport)
            if refusal is not None:
                await transport.reject(as_pyramid_response(refusal))

A refused handshake is sent as the pipeline's HTTP response with the
"websocket denial response" extension (``websocket.http.response.*``) when
the server offers it in ``scope['extensions']``; otherwise the server
answers 403 to a ``websocket.close`` sent before accepting, as the ASGI
specification says.

What the server does on its own: pings (uvicorn's ``--ws-ping-interval``),
a frame size limit (``--ws-max-size``).  aiotao's
``aiotao.websocket.max_message_size`` is checked here on every message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from aiotao.websocket.exceptions import ConnectionClosed, InvalidState
from aiotao.websocket.limits import DEFAULT_LIMITS, Limits, exceeds
from aiotao.websocket.transport import Message, WebsocketTransport

__all__ = ['AsgiWebsocketTransport']

Scope = MutableMapping[str, Any]
ASGIMessage = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[ASGIMessage]]
Send = Callable[[ASGIMessage], Awaitable[None]]

_ABNORMAL = 1006
_TOO_BIG = 1009
_DENIAL_EXTENSION = 'websocket.http.response'


class AsgiWebsocketTransport(WebsocketTransport):
    """The websocket side of one ASGI ``websocket`` scope."""

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get('type') != 'websocket':
            raise ValueError(f'not a websocket scope: {scope.get("type")!r}')
        self.scope = scope
        self._receive = receive
        self._send = send
        self._limits = DEFAULT_LIMITS
        self._connected = False
        self._disconnected = False
        self._answered = False  # accepted or rejected: one answer per handshake
        self._close_sent = False

    async def _wait_for_connect(self) -> None:
        # The first ASGI event of a websocket scope is websocket.connect;
        # a client that already left gives websocket.disconnect instead.
        if self._connected or self._disconnected:
            return
        message = await self._receive()
        kind = message['type']
        if kind == 'websocket.connect':
            self._connected = True
        elif kind == 'websocket.disconnect':
            self._on_disconnect(message)
        else:
            raise InvalidState(
                f'expected websocket.connect from the server, got {kind}'
            )

    async def accept(
        self, subprotocol: str | None = None, limits: Limits = DEFAULT_LIMITS
    ) -> None:
        if self._answered:
            raise InvalidState('the websocket handshake was already answered')
        await self._wait_for_connect()
        if self._disconnected:
            raise ConnectionClosed(
                self._close_code or _ABNORMAL, 'the client left during the handshake'
            )
        self._answered = True
        try:
            await self._send({'type': 'websocket.accept', 'subprotocol': subprotocol})
        except OSError:  # ASGI: the server's error for a client that is gone
            self._disconnected = True
            raise ConnectionClosed(
                _ABNORMAL, 'the client left during the handshake'
            ) from None
        self._limits = limits
        self.accepted = True

    async def reject(self, response: Any) -> None:
        """Refuse the handshake with ``response`` (a WebOb/Pyramid response).

        Sent whole with the denial response extension; as a bare 403 when
        the server lacks it.
        """
        if self._answered:
            raise InvalidState('the websocket handshake was already answered')
        await self._wait_for_connect()
        self._answered = True
        if self._disconnected:
            return
        try:
            if _DENIAL_EXTENSION in (self.scope.get('extensions') or {}):
                await self._send_denial(response)
            else:
                await self._send({'type': 'websocket.close', 'code': 1008})
        except OSError:
            self._disconnected = True

    async def _send_denial(self, response: Any) -> None:
        headers = [
            (name.lower().encode('latin-1'), value.encode('latin-1'))
            for name, value in response.headerlist
        ]
        await self._send(
            {
                'type': 'websocket.http.response.start',
                'status': response.status_int,
                'headers': headers,
            }
        )
        await self._send(
            {'type': 'websocket.http.response.body', 'body': response.body}
        )

    async def receive(self) -> Message | None:
        if not self.accepted:
            raise InvalidState('receive() before the handshake was accepted')
        if self._disconnected:
            return None
        message = await self._receive()
        kind = message['type']
        if kind == 'websocket.receive':
            text = message.get('text')
            data: Message = text if text is not None else message.get('bytes') or b''
            if exceeds(data, self._limits.max_message_size):
                await self.close(_TOO_BIG, 'message too big')
                return None
            return data
        if kind == 'websocket.disconnect':
            self._on_disconnect(message)
            return None
        raise InvalidState(f'unexpected ASGI event {kind} on an open websocket')

    async def send(self, data: Message) -> None:
        if not self.accepted:
            raise InvalidState('send() before the handshake was accepted')
        if self._close_sent or self._disconnected:
            raise ConnectionClosed(self._close_code or _ABNORMAL, self._close_reason)
        key = 'text' if isinstance(data, str) else 'bytes'
        try:
            await self._send({'type': 'websocket.send', key: data})
        except OSError:
            self._disconnected = True
            self._record(_ABNORMAL, 'connection lost')
            raise ConnectionClosed(
                self._close_code or _ABNORMAL, self._close_reason
            ) from None

    async def close(self, code: int = 1000, reason: str = '') -> None:
        if not self.accepted or self._close_sent or self._disconnected:
            return
        self._close_sent = True
        self._record(code, reason)
        try:
            # The server waits for the client's reply on its own; this only
            # bounds a send that waits on a client that stopped reading.
            async with asyncio.timeout(self._limits.close_timeout):
                await self._send(
                    {'type': 'websocket.close', 'code': code, 'reason': reason}
                )
        except (OSError, TimeoutError):
            self._disconnected = True

    def abort(self) -> None:
        # ASGI has no message for it: the server drops the connection when
        # the application returns, or on its own ping timeout.
        pass

    def _on_disconnect(self, message: ASGIMessage) -> None:
        self._disconnected = True
        self._record(message.get('code', 1005), message.get('reason') or '')
