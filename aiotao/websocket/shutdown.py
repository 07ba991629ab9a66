"""Every open websocket connection of this process, to close them on shutdown.

Servers call :func:`close_all` when the process stops (aiotao's gunicorn
worker on SIGTERM, before waiting for in-flight requests): each client gets
a close frame with code 1001 ("going away") instead of a dropped TCP
connection, and each websocket view's ``recv()`` returns ``None`` so that
the view ends and its request finishes::

    await aiotao.websocket.shutdown.close_all()

Connections register themselves when the handshake is accepted and leave
when they are closed; the set holds no closed connection.  Each event loop
(each server: a gunicorn worker, an ASGI server's loop, a test's loop)
has its own set, dropped with the loop: no set is shared by the process.
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


class _Served:
    """The websocket connections of one event loop, that is of one server."""

    __slots__ = ('closing', 'open')

    def __init__(self) -> None:
        self.open: set[Closable] = set()
        #: :func:`close_all` ran: the server stops.
        self.closing = False


#: Each loop's own state, found by its loop and gone with it.
_served: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Served] = (
    weakref.WeakKeyDictionary()
)


def _of(loop: asyncio.AbstractEventLoop) -> _Served:
    served = _served.get(loop)
    if served is None:
        served = _served[loop] = _Served()
    return served


def register(connection: Closable) -> None:
    """Count ``connection`` as open (called when its handshake completes, on its loop)."""
    _of(connection.loop or asyncio.get_running_loop()).open.add(connection)


def discard(connection: Closable) -> None:
    """Forget ``connection`` (called when it is closed)."""
    served = _served.get(connection.loop) if connection.loop is not None else None
    if served is not None:
        served.open.discard(connection)


def open_connections() -> frozenset[Closable]:
    """The open connections served by the running event loop.

    >>> async def main():
    ...     return open_connections()
    >>> asyncio.run(main())
    frozenset()
    """
    served = _served.get(asyncio.get_running_loop())
    return frozenset(served.open) if served is not None else frozenset()


async def close_all(code: int = 1001, reason: str = 'server shutting down') -> int:
    """Close every open connection of this event loop; return how many.

    The close frames go out at once, without waiting for queued messages;
    then this waits for the closing handshakes, each bounded by
    ``aiotao.websocket.close_timeout``.  Connections of other event loops
    (other threads) are left alone: they cannot be closed from this one.
    """
    _of(asyncio.get_running_loop()).closing = True
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
    served = _served.get(asyncio.get_running_loop())
    return served is not None and served.closing
