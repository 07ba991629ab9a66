"""A line-based TCP admin console: the demo's ``[aiotao.server:admin]``.

::

    $ nc 127.0.0.1 6545
    aiotao admin console, worker 4242; commands: help, stats, quit
    stats
    {"pid": 4242, "websockets": 3, "tasks": 9, "uptime": 61.2}
    quit
    bye

``stats`` reports the worker that took the connection: with several
workers, each connection may reach another one.  An unknown command gets
an ``error:`` line; a line over ``option.max_line`` bytes (1024 by
default) gets an ``error:`` line and the connection is closed.  The
console has no password, so it refuses to listen beyond the loopback
interface.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import time

from pyramid.exceptions import ConfigurationError
from pyramid.registry import Registry

from aiotao.servers import ServerSection, StreamServer, start_stream_server
from aiotao.websocket.connections import open_connections

DEFAULT_MAX_LINE = 1024
COMMANDS = ('help', 'stats', 'quit')


def stats(started: float) -> dict[str, object]:
    """What ``stats`` prints: this worker's pid, websockets, tasks and uptime.

    ``tasks`` counts the asyncio tasks not yet done on the worker's loop
    (the console session's own included): a count that keeps growing
    while traffic comes and goes is a task leak, which no figure seen from
    outside the process (memory, descriptors) shows early.
    """
    return {
        'pid': os.getpid(),
        'websockets': len(open_connections()),
        'tasks': len(asyncio.all_tasks()),
        'uptime': round(time.monotonic() - started, 1),
    }


def answer(line: str, started: float) -> tuple[str, bool]:
    """The reply to one command line, and whether to close afterwards.

    >>> answer('help', 0.0)
    ('commands: help, stats, quit', False)
    >>> answer('shutdown', 0.0)
    ("error: unknown command 'shutdown'; commands: help, stats, quit", False)
    """
    command = line.strip()
    if command == 'help':
        return f'commands: {", ".join(COMMANDS)}', False
    if command == 'stats':
        return json.dumps(stats(started)), False
    if command == 'quit':
        return 'bye', True
    return (
        f'error: unknown command {command[:40]!r}; commands: {", ".join(COMMANDS)}',
        False,
    )


async def serve_console(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    started: float,
    max_line: int,
) -> None:
    """One console session, until ``quit``, the client leaves or the server stops."""
    writer.write(
        f'aiotao admin console, worker {os.getpid()}; commands: '
        f'{", ".join(COMMANDS)}\n'.encode()
    )
    while True:
        try:
            raw = await reader.readline()
        except ValueError:  # asyncio's limit: the line is over max_line
            writer.write(f'error: line over {max_line} bytes; closing\n'.encode())
            break
        if not raw:
            break  # the client left, or the server is stopping
        line = raw.decode('utf-8', 'replace')
        if not line.strip():
            continue
        reply, close = answer(line, started)
        writer.write(reply.encode() + b'\n')
        await writer.drain()
        if close:
            break
    await writer.drain()
    writer.close()


def _max_line(section: ServerSection) -> int:
    raw = section.options.get('max_line', str(DEFAULT_MAX_LINE))
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 16:
        raise ConfigurationError(
            f'{section.title} option.max_line = {raw!r}: expected a whole '
            f'number of bytes of at least 16'
        )
    return value


def _check_loopback(section: ServerSection) -> None:
    try:
        loopback = ipaddress.ip_address(section.host).is_loopback
    except ValueError:
        loopback = section.host == 'localhost'
    if not loopback:
        raise ConfigurationError(
            f'{section.title} host = {section.host}: the admin console has no '
            f'password; bind it to 127.0.0.1 or ::1 only'
        )


async def start_console(
    registry: Registry | None, section: ServerSection
) -> StreamServer:
    """The ``factory`` of ``[aiotao.server:admin]``."""
    _check_loopback(section)
    max_line = _max_line(section)
    started = time.monotonic()

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await serve_console(reader, writer, started, max_line)

    return await start_stream_server(handle, section, limit=max_line)
