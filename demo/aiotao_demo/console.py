"""A line-based TCP admin console: the demo's ``[aiotao.server:admin]``.

::

    $ nc 127.0.0.1 6545
    aiotao admin console, worker 4242; commands: help, stats, memory, quit
    stats
    {"pid": 4242, "websockets": 3, "tasks": 9, "uptime": 61.2, "admission": {"loop_lag_ms": 0.4, ...}}
    memory
    {"pid": 4242, "tracing": "started", "rss_kib": 61320, ...}
    memory
    {"pid": 4242, "tracing": "since the last look", "rss_kib": 63020, ...}
    quit
    bye

``stats`` and ``memory`` report the worker that took the connection: with
several workers, each connection may reach another one.  ``memory`` (see
:class:`MemoryWatch`) finds what a worker keeps: the first call starts
:mod:`tracemalloc` (which slows the worker down and takes memory of its
own until the worker stops), every later one says which allocation sites
and which types of objects grew since the call before, and what the
collector found in cycles.  Each call holds the worker for as long as it
takes (a full collection, a count of every object, a snapshot: tenths of
a second in the demo): a tool for finding a leak, not for monitoring.

An unknown command gets an ``error:`` line; a line over
``option.max_line`` bytes (1024 by default) gets an ``error:`` line and
the connection is closed.  The console has no password, so it refuses to
listen beyond the loopback interface.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import ipaddress
import json
import os
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path

from pyramid.exceptions import ConfigurationError
from pyramid.registry import Registry

from aiotao.serving.admission import worker_admission
from aiotao.sidecars import ServerSection, StreamServer, start_stream_server
from aiotao.websocket.shutdown import open_connections

DEFAULT_MAX_LINE = 1024
COMMANDS = ('help', 'stats', 'memory', 'quit')
#: Frames kept per allocation by ``memory``'s tracing: enough to see
#: whose code called the allocating library.
TRACE_FRAMES = 6


def stats(started: float) -> dict[str, object]:
    """What ``stats`` prints: this worker's pid, websockets, tasks and uptime.

    Under aiotao's gunicorn worker, ``admission`` adds the loop's lag and
    what admission control refused (:mod:`aiotao.serving.admission`).

    ``tasks`` counts the asyncio tasks not yet done on the worker's loop
    (the console session's own included): a count that keeps growing
    while traffic comes and goes is a task leak, which no figure seen from
    outside the process (memory, descriptors) shows early.
    """
    figures: dict[str, object] = {
        'pid': os.getpid(),
        'websockets': len(open_connections()),
        'tasks': len(asyncio.all_tasks()),
        'uptime': round(time.monotonic() - started, 1),
    }
    admission = worker_admission()
    if admission is not None:  # under aiotao's gunicorn worker
        figures['admission'] = admission.metrics()
    return figures


def type_counts() -> Counter[str]:
    """Live objects the collector tracks, by ``module.Type``."""
    return Counter(
        f'{type(o).__module__}.{type(o).__qualname__}' for o in gc.get_objects()
    )


def rss_kib() -> int | None:
    """This process's resident memory in KiB (Linux's ``/proc``), else ``None``."""
    try:
        status = Path('/proc/self/status').read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1])
    return None


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            'arena', 'ordblks', 'smblks', 'hblks', 'hblkhd',
            'usmblks', 'fsmblks', 'uordblks', 'fordblks', 'keepcost',
        )
    ]  # fmt: skip


def malloc_kib() -> dict[str, int] | None:
    """glibc's heap in KiB (``mallinfo2``, every arena): ``None`` elsewhere.

    ``in_use`` against ``free`` tells a leak from fragmentation: memory
    that C code (and Python's large objects) keeps grows ``in_use``; freed
    memory the allocator cannot give back (a live block above it in the
    arena) grows ``free``.  Neither shows in :mod:`tracemalloc` when the
    allocation is not Python's.
    """
    try:
        mallinfo2 = ctypes.CDLL(None).mallinfo2
    except (OSError, AttributeError):  # not glibc, or glibc before 2.33
        return None
    mallinfo2.restype = _MallInfo2
    info = mallinfo2()
    return {
        'arenas': (info.arena + info.hblkhd) // 1024,
        'in_use': (info.uordblks + info.hblkhd) // 1024,
        'free': info.fordblks // 1024,
    }


def collected_types() -> Counter[str]:
    """A full collection; what it found unreachable (cycles), by type.

    A kind of object that turns up here at every look is made into a
    reference cycle by some code: it waits for the collector (every few
    seconds in a worker, :mod:`aiotao.serving.garbage`), with whatever it
    refers to, rather than being freed when its last user is done with it.
    """
    saved = len(gc.garbage)
    debug = gc.get_debug()
    gc.set_debug(debug | gc.DEBUG_SAVEALL)
    try:
        gc.collect()
    finally:
        gc.set_debug(debug)
    found = Counter(
        f'{type(o).__module__}.{type(o).__qualname__}' for o in gc.garbage[saved:]
    )
    del gc.garbage[saved:]
    gc.collect()  # now free them
    return found


class MemoryWatch:
    """What grew in this process between two looks: the ``memory`` command.

    Take a look at quiet points (no request or websocket in flight), so
    that what grew is what stays, not what is in use.  The first look
    starts :mod:`tracemalloc`; each later one lists the ``top`` allocation
    sites (the last frames of their tracebacks, aiotao's caller included)
    and the ``top`` object types that grew most since the look before.
    Each look runs a full collection first, and says how many unreachable
    objects it found (cycles the worker's collector had not reached yet)
    and what :data:`gc.garbage` holds (cycles it could not free).

    >>> watch = MemoryWatch(top=3)
    >>> watch.look()['tracing']
    'started'
    >>> class Session: ...
    >>> kept = [Session() for _ in range(1000)]
    >>> name, grew, alive = watch.look()['types'][0]
    >>> name.endswith('.Session'), grew, alive
    (True, 1000, 1000)
    >>> tracemalloc.stop()
    """

    def __init__(self, top: int = 10) -> None:
        self.top = top
        self._snapshot: tracemalloc.Snapshot | None = None
        self._types: Counter[str] = Counter()

    def look(self) -> dict[str, object]:
        """Collect, compare with the last look, remember this one."""
        collected = collected_types()
        report: dict[str, object] = {
            'pid': os.getpid(),
            'rss_kib': rss_kib(),
            'malloc_kib': malloc_kib(),
            'python_blocks': sys.getallocatedblocks(),
            'collected': sum(collected.values()),
            # the builtins (tuples, dicts, frames) are in every cycle: the
            # classes say whose objects they are
            'collected_classes': [
                item
                for item in collected.most_common()
                if not item[0].startswith('builtins.')
            ][: self.top],
            'garbage': len(gc.garbage),
            'frozen': gc.get_freeze_count(),
            'collections': [generation['collections'] for generation in gc.get_stats()],
        }
        types = type_counts()
        if not tracemalloc.is_tracing() or self._snapshot is None:
            tracemalloc.start(TRACE_FRAMES)
            report['tracing'] = 'started'
        else:
            report['tracing'] = 'since the last look'
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__)]
        )
        if report['tracing'] != 'started' and self._snapshot is not None:
            sites = snapshot.compare_to(self._snapshot, 'traceback')
            report['traced_kib'] = sum(s.size for s in sites) // 1024
            report['sites'] = [
                [s.size_diff // 1024, s.count_diff, *s.traceback.format()[-6:]]
                for s in sites[: self.top]
            ]
            grown = types - self._types
            report['types'] = [
                [name, count, types[name]]
                for name, count in grown.most_common(self.top)
            ]
        self._snapshot = snapshot
        self._types = types
        return report


#: The worker's own: a console session may land on any worker.
MEMORY_WATCH = MemoryWatch()


def answer(line: str, started: float) -> tuple[str, bool]:
    """The reply to one command line, and whether to close afterwards.

    >>> answer('help', 0.0)
    ('commands: help, stats, memory, quit', False)
    >>> answer('shutdown', 0.0)
    ("error: unknown command 'shutdown'; commands: help, stats, memory, quit", False)
    """
    command = line.strip()
    if command == 'help':
        return f'commands: {", ".join(COMMANDS)}', False
    if command == 'stats':
        return json.dumps(stats(started)), False
    if command == 'memory':
        return json.dumps(MEMORY_WATCH.look()), False
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
