"""What the reliability tests measure: worker memory, descriptors, throughput.

Plain functions over ``/proc`` and raw sockets, so that the figures come
from the kernel and the wire, not from the server's own account of itself.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import time
from pathlib import Path

import pytest

HELLO = b'GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'


def rss_kib(pid: int) -> int:
    """The resident set size of process ``pid`` in KiB (``VmRSS``)."""
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1])
    raise AssertionError(f'no VmRSS for pid {pid}')


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time process ``pid`` has used, in seconds."""
    fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    # utime and stime: fields 14 and 15 of proc(5), counted after the name
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def open_fds(pid: int) -> int:
    """How many file descriptors process ``pid`` has open."""
    return len(list(Path(f'/proc/{pid}/fd').iterdir()))


def alive(pid: int) -> bool:
    """``True`` while ``pid`` runs (a zombie counts as gone)."""
    try:
        status = Path(f'/proc/{pid}/status').read_text()
    except FileNotFoundError:
        return False
    return '\nState:\tZ' not in status


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One HTTP/1.1 response with a ``Content-Length``: status and body."""
    head = await reader.readuntil(b'\r\n\r\n')
    status = int(head.split(b' ', 2)[1])
    length = 0
    for line in head.split(b'\r\n')[1:]:
        name, _, value = line.partition(b':')
        if name.strip().lower() == b'content-length':
            length = int(value)
    return status, await reader.readexactly(length)


async def hello_throughput(
    port: int, seconds: float, clients: int = 8
) -> tuple[float, int, int]:
    """Requests per second to ``/hello`` from keep-alive ``clients``, answers, errors.

    Each client sends a request, reads the response, and repeats, until
    ``seconds`` pass: the figure is what the server completes, not what
    was sent.
    """
    done = 0
    errors = 0
    deadline = time.monotonic() + seconds

    async def client() -> None:
        nonlocal done, errors
        reader, writer = await asyncio.open_connection('127.0.0.1', port)
        try:
            while time.monotonic() < deadline:
                writer.write(HELLO)
                status, body = await asyncio.wait_for(read_response(reader), 10)
                if status == 200 and body == b'Hello, world!':
                    done += 1
                else:
                    errors += 1
        finally:
            writer.close()

    start = time.monotonic()
    await asyncio.gather(*(client() for _ in range(clients)))
    return done / (time.monotonic() - start), done, errors


async def wrk_hello(port: int, seconds: int, connections: int = 32) -> tuple[int, int]:
    """``/hello`` as fast as ``wrk`` (in C) sends it: answers and errors.

    ``connections`` keep-alive connections, each with a request always in
    flight, keep the worker's queue full whenever it runs, so that what a
    request costs it does not depend on how fast the clients could send on
    a machine they share with it.  Errors are wrk's: non-2xx answers and
    socket errors.
    """
    wrk = shutil.which('wrk')
    if wrk is None:
        pytest.fail('wrk is not installed: apt-get install wrk', pytrace=False)
    process = await asyncio.create_subprocess_exec(
        wrk, '-t1', f'-c{connections}', f'-d{seconds}s',
        f'http://127.0.0.1:{port}/hello',
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    output = (await process.communicate())[0].decode()
    assert process.returncode == 0, output
    done = re.search(r'(\d+) requests in', output)
    assert done is not None, output
    errors = sum(
        int(n) for n in re.findall(r'(?:connect|read|write|timeout) (\d+)', output)
    )
    non_2xx = re.search(r'Non-2xx or 3xx responses: (\d+)', output)
    return int(done.group(1)), errors + (int(non_2xx.group(1)) if non_2xx else 0)
