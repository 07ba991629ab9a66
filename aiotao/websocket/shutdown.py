"""Every open websocket connection of this process, to close them on shutdown.

Servers call :func:`close_all` when the process stops (aiotao's gunicorn
worker on SIGTERM, before waiting for in-flight requests): each client gets
a close frame with code 1001 ("going away") instead of a dropped TCP
connection, and each websocket view's ``recv()`` returns ``None`` so that
the view ends and its request finishes::

    await aiotao.websocket.shutdown.close_all()

Connections register themselves when the handshake is accepted and leave
when they are closed; the set holds no closed connection.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Protocol

__all__ = ['close_all', 'closing', 'open_connections']


class Closable(Protocol):
    """What this module needs of a connection."""

    loop: asyncio.AbstractEventLoop | None

    async def close(self, code: int = 1000, reason: str = '') -> None: ...

    def close_nowait(self, code: int = 1000, reason: str = '') -> None: ...


_open: set[Closable] = set()
#: The event loops whose connections :func:`close_all` closed (their server stops).
_closing: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()


def register(connection: Closable) -> None:
    """Count ``connection`` as open (called when its handshake completes)."""
    _open.add(connection)


def discard(connection: Closable) -> None:
    """Forget ``connection`` (called when it is closed)."""
    _open.discard(connection)


def open_connections() -> frozenset[Closable]:
    """The open connections served by the running event loop.

    >>> async def main():
    ...     return open_connections()
    >>> asyncio.run(main())
    frozenset()
    """
    loop = asyncio.get_running_loop()
    return frozenset(c for c in _open if c.loop is loop)


async def close_all(code: int = 1001, reason: str = 'server shutting down') -> int:
    """Close every open connection of this event loop; return how many.

    The close frames go out at once, without waiting for queued messages;
    then this waits for the closing handshakes, each bounded by
    ``aiotao.websocket.close_timeout``.  Connections of other event loops
    (other threads) are left alone: they cannot be closed from this one.
    """
    _closing.add(asyncio.get_running_loop())
    connections = open_connections()
    for connection in connections:
        connection.close_nowait(code, reason)
    await asyncio.gather(
        *(connection.close(code, reason) for connection in connections),
        return_exceptions=True,
    )
    return len(connections)


def closing() -> bool:
    """Whether the running loop's server closes (or closed) its websockets to stop.

    What a view learns when its connection ends this way: the client was
    told the server is going away and reconnects elsewhere, so the view
    should not tell others that this person left (see
    :mod:`aiotao.presence.tracker`).

    >>> async def main():
    ...     before = closing()
    ...     await close_all()
    ...     return before, closing()
    >>> asyncio.run(main())
    (False, True)
    """
    return asyncio.get_running_loop() in _closing
