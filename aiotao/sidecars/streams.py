"""A TCP stream server that stops gracefully: what a ``factory`` usually returns.

``asyncio.start_server`` on Python 3.11 forgets its connections once it stops
listening: its ``wait_closed()`` returns at once and handlers run on.
:func:`start_stream_server` keeps track of them::

    async def start_console(registry, section):
        async def handle(reader, writer):
            while line := await reader.readline():
                writer.write(b'you said ' + line)
            writer.close()

        return await start_stream_server(handle, section)

Stopping, in the order :class:`~aiotao.sidecars.running.IniServers` calls it:

* :meth:`StreamServer.close`: stop listening, and end the *input* of every
  connection (``shutdown(SHUT_RD)``): to a handler this looks like a client
  that has said all it had to say, so ``readline()`` returns ``b''`` after
  the lines already received, the handler finishes its work and returns,
  and what it writes still reaches the client;
* :meth:`StreamServer.wait_closed`: wait for the handlers to return;
* :meth:`StreamServer.abort_clients`: past the graceful timeout, cancel the
  handlers that are left and drop their connections.

A handler that raises is logged; its connection is closed.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable

from aiotao.sidecars.sections import ServerSection

__all__ = ['DEFAULT_LINE_LIMIT', 'StreamHandler', 'StreamServer', 'start_stream_server']

log = logging.getLogger(__name__)

StreamHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

#: asyncio's own buffer limit: ``readline()`` raises ``ValueError`` past it.
DEFAULT_LINE_LIMIT = 2**16


class StreamServer:
    """A listening TCP server whose connections end gracefully."""

    def __init__(self, handler: StreamHandler, name: str = 'stream server') -> None:
        self.handler = handler
        self.name = name
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    async def listen(
        self, host: str, port: int, *, reuse_port: bool, limit: int
    ) -> None:
        self._server = await asyncio.start_server(
            self._serve, host, port, reuse_port=reuse_port or None, limit=limit
        )

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return tuple(self._server.sockets) if self._server is not None else ()

    @property
    def connections(self) -> int:
        """How many connections are being served."""
        return len(self._connections)

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        try:
            if self._server is None or not self._server.is_serving():
                return  # accepted just as the server stopped
            await self.handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away: nothing to report
        except Exception:
            log.exception('aiotao.sidecars: %s: a connection handler failed', self.name)
        finally:
            del self._connections[task]
            writer.close()

    def close(self) -> None:
        """Stop listening; end the input of every connection (see the module doc)."""
        if self._server is not None:
            self._server.close()
        for writer in self._connections.values():
            sock = writer.get_extra_info('socket')
            if sock is not None and not writer.is_closing():
                try:
                    sock.shutdown(socket.SHUT_RD)
                except OSError:
                    pass  # already disconnected

    async def wait_closed(self) -> None:
        """Wait until every handler has returned."""
        if self._server is not None:
            await self._server.wait_closed()
        while self._connections:
            await asyncio.wait(set(self._connections))

    def abort_clients(self) -> None:
        """Cancel the handlers still running and drop their connections."""
        for task, writer in list(self._connections.items()):
            task.cancel()
            writer.transport.abort()


async def start_stream_server(
    handler: StreamHandler,
    section: ServerSection,
    *,
    limit: int = DEFAULT_LINE_LIMIT,
) -> StreamServer:
    """Listen on the section's address with ``handler`` for each connection.

    ``limit`` bounds a line (``readline()`` raises ``ValueError`` past it)
    and the buffer of each connection.
    """
    server = StreamServer(handler, section.title)
    await server.listen(
        section.host, section.port, reuse_port=section.reuse_port, limit=limit
    )
    return server
