"""The contract between a server and aiotao's websocket views.

A server that can upgrade connections (each way of serving in
:mod:`aiotao.serving`: the gunicorn worker, the ASGI adapter, the standalone
server) puts a :class:`WebsocketTransport` into the WSGI environ of an
upgrade request under :data:`TRANSPORT_ENVIRON_KEY` and runs the request
through the normal pipeline (tweens, route and view predicates, security,
origin check) -- all three with :func:`aiotao.serving.upgrade.run_upgrade`.
The websocket view mapper accepts the upgrade only once all of that passed,
and runs the whole websocket session inside the view call.  Then the server
looks at the transport:

* ``transport.accepted`` is true: the session took place and is over; the
  server finishes the connection (aiohttp: return
  :attr:`~aiotao.serving.gunicorn.transport.AiohttpWebsocketTransport.response`
  from the handler);
* otherwise the pipeline answered with an HTTP response (403, 404, 426...)
  and the server sends it, rejecting the handshake (ASGI:
  :meth:`~aiotao.serving.asgi.transport.AsgiWebsocketTransport.reject`).

In an aiohttp handler::

    transport = AiohttpWebsocketTransport(request)
    refusal = await run_upgrade(router, environ, transport)
    if refusal is None:
        return transport.response
    return to_aiohttp_response(refusal)

Frame parsing is never done here: each transport wraps its server's own
websocket implementation.  The transport is the low level: applications use
:class:`~aiotao.websocket.connection.WebsocketConnection`, which adds the
state machine, the send queue, limits and groups on top of it.
"""

from __future__ import annotations

import abc

from aiotao.websocket.limits import DEFAULT_LIMITS, Limits

__all__ = ['TRANSPORT_ENVIRON_KEY', 'Message', 'WebsocketTransport']

#: Where servers put the transport in the environ.
TRANSPORT_ENVIRON_KEY = 'aiotao.websocket.transport'

#: One message: text or binary.
Message = str | bytes


class WebsocketTransport(abc.ABC):
    """Server side of one websocket upgrade.  Implemented once per server.

    One task at a time calls :meth:`receive`, one at a time :meth:`send`
    (the connection object guarantees both); :meth:`close` may come from
    any task, also while the others wait.
    """

    #: True once :meth:`accept` completed the handshake.
    accepted: bool = False

    @abc.abstractmethod
    async def accept(
        self, subprotocol: str | None = None, limits: Limits = DEFAULT_LIMITS
    ) -> None:
        """Complete the opening handshake, enforcing ``limits`` from now on.

        Raises :exc:`~aiotao.websocket.exceptions.HandshakeError` for a
        malformed handshake, and
        :exc:`~aiotao.websocket.exceptions.ConnectionClosed` if the client
        left before it completed.
        """

    @abc.abstractmethod
    async def receive(self) -> Message | None:
        """The next message, or ``None`` once the connection is closed.

        A message bigger than ``limits.max_message_size`` closes the
        connection with 1009 and gives ``None``.  Must be safe to cancel
        (no message is lost when the waiting task is cancelled).
        """

    @abc.abstractmethod
    async def send(self, data: Message) -> None:
        """Send one message.

        May wait while the socket's buffers are full (flow control); raises
        :exc:`~aiotao.websocket.exceptions.ConnectionClosed` once the
        connection is gone.
        """

    def send_may_wait(self, data: Message) -> bool:
        """Whether :meth:`send` of ``data`` may wait for the client now.

        The connection bounds a send that may wait with ``send_timeout``
        and spares the others that timer.  This default cannot tell, so
        every send is bounded; a transport that sees its write buffer
        answers ``False`` while ``data`` fits below the high-water mark.
        """
        return True

    def send_now(self, data: Message) -> bool:
        """Send ``data`` at once, without a coroutine, if this transport can.

        ``True``: the message is written (handed to the socket, as a
        :meth:`send` that did not wait).  ``False``: nothing was written,
        and :meth:`send` is the way (the socket's buffer is too full, or the
        transport has no such path: this default).  Raises
        :exc:`~aiotao.websocket.exceptions.ConnectionClosed` as :meth:`send`
        does.  Called by the connection's broadcast delivery, where a
        coroutine per message and client costs more than the write; the
        same rule holds as for :meth:`send`: one sender at a time.
        """
        return False

    @abc.abstractmethod
    async def close(self, code: int = 1000, reason: str = '') -> None:
        """Start (or finish) the closing handshake; safe to call twice.

        Waits at most ``limits.close_timeout`` for the client, then gives
        up on it; never raises for a connection that is already gone.
        """

    @abc.abstractmethod
    def abort(self) -> None:
        """Drop the network connection now, without a closing handshake.

        For a client that stopped reading: a close frame would wait behind
        everything it did not read.  A no-op where the server offers no way
        to do it (ASGI).
        """

    _close_code: int | None = None
    _close_reason: str = ''

    @property
    def close_code(self) -> int | None:
        """The close code once closed (the first close frame's), else ``None``."""
        return self._close_code

    @property
    def close_reason(self) -> str:
        """The close reason once closed, else ``''``."""
        return self._close_reason

    def _record(self, code: int, reason: str) -> None:
        """Remember how the connection closed: the first close frame decides."""
        if self._close_code is None:
            self._close_code = int(code)
            self._close_reason = reason
