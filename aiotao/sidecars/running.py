"""Starting and stopping the ini's servers on the serving loop.

:class:`IniServers` is what a server process (aiotao's gunicorn worker, the
ASGI adapter's lifespan) holds::

    servers = IniServers.from_ini('development.ini')   # checked here
    await servers.start(registry)      # after ServerStarted: clients exist
    ...
    servers.close()                    # stop accepting, with the HTTP listeners
    await servers.wait_closed(25.0)    # let connections finish, then drop them

Each kind of entry becomes a running server with the same three steps:

* ``protocol`` + ``tcp``: ``loop.create_server``; one protocol per
  connection.  Closing stops listening and closes each connection's
  transport (what was written still goes out);
* ``protocol`` + ``udp``: ``loop.create_datagram_endpoint``; one protocol.
  Closing closes the endpoint;
* ``factory``: whatever the factory returned; ``close()``, then
  ``wait_closed()``, and at the deadline ``abort_clients()`` if it has one
  (:class:`~aiotao.sidecars.streams.StreamServer` and Python 3.13's
  ``asyncio.Server`` do).

A protocol is made with ``ProtocolClass()``; before the loop calls its
``connection_made`` aiotao sets two attributes on it: ``registry`` (the
application's registry, ``None`` for a plain WSGI app; its ``settings`` are
the app's settings) and ``section`` (the :class:`ServerSection`, whose
``options`` hold the ``option.*`` keys).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from pyramid.exceptions import ConfigurationError
from pyramid.registry import Registry

from aiotao.sidecars.sections import ServerSection, gunicorn_ini, read_sections

__all__ = ['IniServers', 'ServerStartError']

log = logging.getLogger('aiotao.sidecars')


class ServerStartError(RuntimeError):
    """A server of the ini could not start (its port is taken, its factory failed)."""


class Running(Protocol):
    """A started server, as :class:`IniServers` stops it."""

    def close(self) -> None: ...

    async def wait_closed(self) -> None: ...

    def abort(self) -> None: ...


class IniServers:
    """The servers of an ini, in one serving process."""

    def __init__(self, sections: Sequence[ServerSection] = ()) -> None:
        self.sections = list(sections)
        self._running: list[tuple[ServerSection, Running]] = []

    @classmethod
    def from_ini(cls, ini: str | None) -> IniServers:
        """The ``[aiotao.server:NAME]`` sections of ``ini`` (none without one)."""
        return cls(read_sections(ini) if ini else ())

    @classmethod
    def for_gunicorn(cls, cfg: Any, app: Any = None) -> IniServers:
        """The servers of the ini gunicorn serves (``--paste`` or ``pserve``)."""
        return cls.from_ini(gunicorn_ini(cfg, app))

    async def start(self, registry: Registry | None) -> None:
        """Start every server; if one fails, stop those started and raise."""
        for section in self.sections:
            try:
                running = await _start(section, registry)
            except BaseException:
                for _, started in self._running:
                    started.close()
                    started.abort()
                self._running.clear()
                raise
            self._running.append((section, running))
            log.info(
                'aiotao.sidecars: %s serving on %s', section.title, section.address
            )

    def close(self) -> None:
        """Stop accepting; close idle connections (see each kind above)."""
        for _, running in self._running:
            running.close()

    async def wait_closed(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for connections to end, then drop the rest."""
        if not self._running:
            return
        self.close()
        waits = {
            asyncio.ensure_future(running.wait_closed()): section
            for section, running in self._running
        }
        done, pending = await asyncio.wait(waits, timeout=max(0.0, timeout))
        for finished in done:
            if not finished.cancelled() and finished.exception() is not None:
                log.error(
                    'aiotao.sidecars: %s failed while stopping',
                    waits[finished].title,
                    exc_info=finished.exception(),
                )
        for waiting in pending:
            waiting.cancel()
            log.warning(
                'aiotao.sidecars: %s still had connections after %.1fs; dropping them',
                waits[waiting].title,
                timeout,
            )
        for _, running in self._running:
            running.abort()
        self._running.clear()


async def _start(section: ServerSection, registry: Registry | None) -> Running:
    try:
        if section.factory is not None:
            return await _start_factory(section, registry)
        if section.kind == 'udp':
            return await _start_datagram(section, registry)
        return await _start_stream(section, registry)
    except OSError as exc:
        hint = (
            'another process uses it; choose another port'
            if section.reuse_port
            else 'another process (or another worker: set reuse_port = true, '
            'or run one worker) uses it'
        )
        raise ServerStartError(
            f'{section.title}: cannot listen on {section.address}: '
            f'{exc.strerror or exc}; {hint}'
        ) from None


def _made(section: ServerSection, registry: Registry | None) -> asyncio.BaseProtocol:
    assert section.protocol is not None
    protocol = section.protocol()
    protocol.registry = registry  # type: ignore[attr-defined]
    protocol.section = section  # type: ignore[attr-defined]
    return protocol


async def _start_datagram(section: ServerSection, registry: Registry | None) -> Running:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _made(section, registry),  # type: ignore[arg-type, return-value]
        local_addr=(section.host, section.port),
        reuse_port=section.reuse_port or None,
    )
    return _DatagramServer(transport)


class _DatagramServer:
    def __init__(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def close(self) -> None:
        self.transport.close()

    async def wait_closed(self) -> None:
        # the endpoint closes on the loop's next iterations
        while not self.transport.is_closing():
            await asyncio.sleep(0)

    def abort(self) -> None:
        self.transport.close()


async def _start_stream(section: ServerSection, registry: Registry | None) -> Running:
    running = _ProtocolServer()

    def connection() -> asyncio.BaseProtocol:
        protocol = _made(section, registry)
        return _Tracked(protocol, running.transports)

    loop = asyncio.get_running_loop()
    running.server = await loop.create_server(
        connection,
        section.host,
        section.port,
        reuse_port=section.reuse_port or None,
    )
    return running


class _ProtocolServer:
    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.transports: set[asyncio.BaseTransport] = set()

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for transport in list(self.transports):
            transport.close()  # flushes what was written first

    async def wait_closed(self) -> None:
        while self.transports:
            await asyncio.sleep(0.01)

    def abort(self) -> None:
        for transport in list(self.transports):
            if isinstance(transport, asyncio.WriteTransport):
                transport.abort()
            else:
                transport.close()


class _Tracked(asyncio.Protocol):
    """The user's protocol, seen by asyncio, with its transport tracked.

    Every protocol callback is forwarded, so the user's class needs nothing
    from aiotao.
    """

    def __init__(
        self, protocol: asyncio.BaseProtocol, transports: set[asyncio.BaseTransport]
    ) -> None:
        self.protocol = protocol
        self.transports = transports
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.transports.add(transport)
        self.protocol.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.transports.discard(self.transport)
        self.protocol.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self.protocol.data_received(data)  # type: ignore[attr-defined]

    def eof_received(self) -> bool | None:
        return self.protocol.eof_received()  # type: ignore[attr-defined, no-any-return]

    def pause_writing(self) -> None:
        self.protocol.pause_writing()

    def resume_writing(self) -> None:
        self.protocol.resume_writing()


async def _start_factory(section: ServerSection, registry: Registry | None) -> Running:
    try:
        server = await section.factory(registry, section)
    except (OSError, ConfigurationError):
        raise
    except Exception as exc:
        raise ServerStartError(
            f'{section.title}: factory {section.factory!r} failed: {exc}'
        ) from exc
    for method in ('close', 'wait_closed'):
        if not callable(getattr(server, method, None)):
            raise ServerStartError(
                f'{section.title}: the factory returned {server!r}, which has no '
                f'{method}(); return an asyncio.Server or an '
                f'aiotao.sidecars.StreamServer'
            )
    return _FactoryServer(server)


class _FactoryServer:
    def __init__(self, server: Any) -> None:
        self.server = server

    def close(self) -> None:
        self.server.close()

    async def wait_closed(self) -> None:
        await self.server.wait_closed()

    def abort(self) -> None:
        abort_clients = getattr(self.server, 'abort_clients', None)
        if callable(abort_clients):
            abort_clients()
