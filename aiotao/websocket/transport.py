"""The contract between a server and aiotao's websocket views.

A server that can upgrade connections (aiotao's gunicorn worker, the ASGI
adapter) puts a :class:`WebsocketTransport` into the WSGI environ of an
upgrade request under :data:`TRANSPORT_ENVIRON_KEY` and runs the request
through the normal pipeline (tweens, route and view predicates, security,
origin check).  The websocket view mapper accepts the upgrade only once all of
that passed; if the pipeline answered with an HTTP response instead (403,
404, 400), ``transport.accepted`` is still false and the server sends that
response, rejecting the handshake.

Frame parsing is never done here: each transport wraps its server's own
websocket implementation.
"""

from __future__ import annotations

import abc

#: Where servers put the transport in the environ.
TRANSPORT_ENVIRON_KEY = 'aiotao.websocket.transport'

#: One received message: text or binary; ``None`` once the connection closed.
Message = str | bytes


class WebsocketTransport(abc.ABC):
    """Server side of one websocket upgrade.  Implemented once per server."""

    #: True once :meth:`accept` completed the handshake.
    accepted: bool = False

    @abc.abstractmethod
    async def accept(self, subprotocol: str | None = None) -> None:
        """Complete the opening handshake."""

    @abc.abstractmethod
    async def receive(self) -> Message | None:
        """The next message, or ``None`` once the connection is closed."""

    @abc.abstractmethod
    async def send(self, data: Message) -> None:
        """Send one message."""

    @abc.abstractmethod
    async def close(self, code: int = 1000, reason: str = '') -> None:
        """Start (or finish) the closing handshake; safe to call twice."""

    @property
    @abc.abstractmethod
    def close_code(self) -> int | None:
        """The close code once closed, else ``None``."""
