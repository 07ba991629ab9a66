"""A TCP proxy a test can cut: the network between one client and its server fails.

Stopping the server cuts every client; a proxy cuts only the ones behind
it, while the others keep working (and keep publishing)::

    async with TcpProxy('127.0.0.1', mongodb.port) as proxy:
        uri = f'mongodb://127.0.0.1:{proxy.port}/db'
        ...
        await proxy.cut()      # open connections reset, new ones refused
        await proxy.restore()  # accepting again, on the same port
        proxy.freeze()         # bytes stop flowing, nothing is closed (a
                               # network gone silent: no FIN, no RST)
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from types import TracebackType


class TcpProxy:
    """Forwards ``127.0.0.1:port`` to ``host:target_port`` until cut."""

    def __init__(self, host: str, target_port: int) -> None:
        self.host = host
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()

    def freeze(self) -> None:
        """Stop forwarding bytes, closing nothing (until :meth:`cut`)."""
        self._flowing.clear()

    async def restore(self) -> None:
        """Accept connections (again, on the same port)."""
        if self._server is not None:
            return
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(('127.0.0.1', self.port))
        self._server = await asyncio.start_server(self._accept, sock=sock)
        self.port = sock.getsockname()[1]

    async def cut(self) -> None:
        """Reset every open connection and refuse new ones."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for pipe in list(self._pipes):
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        if server is not None:
            # since Python 3.12 this waits for the server's connections
            # too: only once they are reset
            await server.wait_closed()
        self._flowing.set()

    async def _accept(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(
                self.host, self.target_port
            )
        except OSError:
            client_writer.transport.abort()
            return
        self._writers |= {client_writer, server_writer}
        pipes = [
            asyncio.ensure_future(self._pipe(client_reader, server_writer)),
            asyncio.ensure_future(self._pipe(server_reader, client_writer)),
        ]
        self._pipes.update(pipes)
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pipe in pipes:
                pipe.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)
            self._pipes.difference_update(pipes)
            for writer in (client_writer, server_writer):
                self._writers.discard(writer)
                writer.transport.abort()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()

    async def __aenter__(self) -> TcpProxy:
        await self.restore()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.cut()
