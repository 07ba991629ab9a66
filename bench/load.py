"""Load generators: ``wrk`` for HTTP, an asyncio client for websocket echo.

Both run for a fixed time and stop by themselves; both count errors.  For
``wrk`` an error is a response that is not 2xx/3xx or a socket error
(connect, read, write, timeout), as wrk reports them.  For the echo client
an error is a connection that failed, closed early or echoed something
else.
"""

from __future__ import annotations

import asyncio
import re
import resource
import shutil
import subprocess
from dataclasses import dataclass, replace

import aiohttp

#: wrk's threads: one per core of the machine the bench was written for.
WRK_THREADS = 2
#: A request still unanswered after this long counts as a timeout error.
WRK_TIMEOUT_SECONDS = 2
#: Open files wanted for 1000 connections, on both ends, plus margin.
OPEN_FILES = 8192

_REQUESTS_PER_SECOND = re.compile(r'^Requests/sec:\s+([\d.]+)', re.MULTILINE)
_TOTAL = re.compile(r'^\s*(\d+) requests in ([\d.]+)(ms|s|m)\b', re.MULTILINE)
_SECONDS_PER_UNIT = {'ms': 0.001, 's': 1.0, 'm': 60.0}
_SOCKET_ERRORS = re.compile(
    r'Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)'
)
_NON_2XX = re.compile(r'Non-2xx or 3xx responses: (\d+)')


class LoadError(RuntimeError):
    """A load generator could not run or its output could not be read."""


@dataclass(frozen=True)
class Measurement:
    """One run: how many requests (or echoed messages) per second, errors."""

    rate: float
    count: int
    errors: int
    seconds: float
    #: CPU time the server's worker used during the run, in seconds.
    server_cpu: float = 0.0
    #: CPU time the load generator used during the run, in seconds.
    client_cpu: float = 0.0
    #: Errors by kind, for the report (``{'timeout': 12}``).
    error_kinds: tuple[tuple[str, int], ...] = ()

    @property
    def server_load(self) -> float:
        """The worker's CPU use during the run, as a share of one core."""
        return self.server_cpu / self.seconds if self.seconds else 0.0

    @property
    def cpu_per_item(self) -> float:
        """The worker's CPU seconds per request (or echoed message)."""
        return self.server_cpu / self.count if self.count else 0.0

    @property
    def client_load(self) -> float:
        """The load generator's CPU use, as a share of one core."""
        return self.client_cpu / self.seconds if self.seconds else 0.0


def raise_open_files_limit(wanted: int = OPEN_FILES) -> int:
    """Raise this process's soft ``RLIMIT_NOFILE`` (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def wrk_path() -> str:
    """The ``wrk`` program, or a :class:`LoadError` saying how to install it."""
    path = shutil.which('wrk')
    if path is None:
        raise LoadError(
            'wrk is not installed: apt-get install -y wrk '
            '(Debian/Ubuntu; brew install wrk on macOS)'
        )
    return path


def wrk_version() -> str:
    """``wrk 4.1.0``, or just ``wrk`` if it does not say."""
    done = subprocess.run(
        [wrk_path(), '--version'], capture_output=True, text=True, timeout=10
    )
    match = re.search(r'wrk (?:\S+/)?(\d[\w.]*)', done.stdout + done.stderr)
    return f'wrk {match[1]}' if match else 'wrk'


def run_wrk(url: str, *, connections: int, seconds: int) -> Measurement:
    """``wrk -t2 -c<connections> -d<seconds>s`` against ``url``."""
    threads = min(WRK_THREADS, connections)
    argv = [
        wrk_path(),
        f'-t{threads}',
        f'-c{connections}',
        f'-d{seconds}s',
        f'--timeout={WRK_TIMEOUT_SECONDS}s',
        url,
    ]
    before = _children_cpu()
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=seconds + 30, check=False
        )
    except subprocess.TimeoutExpired:
        raise LoadError(f'wrk did not finish within {seconds + 30}s: {argv}') from None
    if done.returncode != 0:
        raise LoadError(f'wrk failed ({done.returncode}): {done.stderr or done.stdout}')
    return replace(parse_wrk(done.stdout), client_cpu=_children_cpu() - before)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def parse_wrk(output: str) -> Measurement:
    """A :class:`Measurement` from wrk's text report.

    >>> report = '''Running 1s test @ http://127.0.0.1:1/
    ...   1200 requests in 1.00s, 1.2MB read
    ...   Socket errors: connect 0, read 3, write 0, timeout 2
    ...   Non-2xx or 3xx responses: 1
    ... Requests/sec:   1199.50
    ... '''
    >>> m = parse_wrk(report)
    >>> m.rate, m.count, m.seconds, m.errors, m.error_kinds
    (1199.5, 1200, 1.0, 6, (('read', 3), ('timeout', 2), ('non-2xx', 1)))
    """
    rate = _REQUESTS_PER_SECOND.search(output)
    total = _TOTAL.search(output)
    if rate is None or total is None:
        raise LoadError(f'cannot read wrk output:\n{output}')
    kinds: list[tuple[str, int]] = []
    socket_errors = _SOCKET_ERRORS.search(output)
    if socket_errors is not None:
        names = ('connect', 'read', 'write', 'timeout')
        kinds += [
            (name, int(value))
            for name, value in zip(names, socket_errors.groups(), strict=True)
            if int(value)
        ]
    non_2xx = _NON_2XX.search(output)
    if non_2xx is not None and int(non_2xx[1]):
        kinds.append(('non-2xx', int(non_2xx[1])))
    return Measurement(
        rate=float(rate[1]),
        count=int(total[1]),
        errors=sum(count for _, count in kinds),
        seconds=float(total[2]) * _SECONDS_PER_UNIT[total[3]],
        error_kinds=tuple(kinds),
    )


async def _echo_client(
    session: aiohttp.ClientSession, url: str, message: str, start: _Start
) -> tuple[int, str | None]:
    """Round trips from the start to the stop: (messages echoed, error or None)."""
    count = 0
    connected = False
    try:
        # no compression: measure the servers, not zlib
        async with session.ws_connect(url, compress=0) as ws:
            connected = True
            await start.ready()
            loop = asyncio.get_running_loop()
            while loop.time() < start.stop_at:
                await ws.send_str(message)
                reply = await ws.receive()
                if reply.type != aiohttp.WSMsgType.TEXT or reply.data != message:
                    return count, f'unexpected reply {reply.type.name}'
                count += 1
            await ws.close()
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        if not connected:
            start.failed()
        return count, type(exc).__name__
    return count, None


class _Start:
    """Lets the clients start together, once all have connected (or failed)."""

    def __init__(self, clients: int) -> None:
        self.waiting = clients
        self.all_connected = asyncio.Event()
        self.go = asyncio.Event()
        self.stop_at = float('inf')

    async def ready(self) -> None:
        self._count_one()
        await self.go.wait()

    def failed(self) -> None:
        self._count_one()

    def _count_one(self) -> None:
        self.waiting -= 1
        if self.waiting <= 0:
            self.all_connected.set()


async def _echo(url: str, clients: int, seconds: float, size: int) -> Measurement:
    message = 'x' * size
    start = _Start(clients)
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=10)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        tasks = [
            asyncio.create_task(_echo_client(session, url, message, start))
            for _ in range(clients)
        ]
        try:
            async with asyncio.timeout(30):
                await start.all_connected.wait()
        except TimeoutError:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise LoadError(
                f'{clients} websocket clients did not connect to {url}'
            ) from None
        loop = asyncio.get_running_loop()
        cpu_before = _own_cpu()
        started = loop.time()
        start.stop_at = started + seconds
        start.go.set()
        results = await asyncio.gather(*tasks)
        elapsed = loop.time() - started
        client_cpu = _own_cpu() - cpu_before
    count = sum(echoed for echoed, _ in results)
    failures: dict[str, int] = {}
    for _, error in results:
        if error is not None:
            failures[error] = failures.get(error, 0) + 1
    return Measurement(
        rate=count / elapsed,
        count=count,
        errors=sum(failures.values()),
        seconds=elapsed,
        client_cpu=client_cpu,
        error_kinds=tuple(sorted(failures.items())),
    )


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_echo(url: str, *, clients: int, seconds: int, size: int = 64) -> Measurement:
    """``clients`` websockets doing send/receive round trips for ``seconds``.

    The rate is echoed messages per second, all clients together; messages
    are ``size`` characters of text.  Runs on uvloop when it is installed,
    so that the client costs less CPU than the server it measures.
    """
    try:
        import uvloop
    except ImportError:
        return asyncio.run(_echo(url, clients, seconds, size))
    return uvloop.run(_echo(url, clients, seconds, size))
