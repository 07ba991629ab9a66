"""Stopping the worker: graceful SIGTERM, quick SIGINT/SIGQUIT, max_requests.

Graceful means: stop accepting, let requests in flight finish within
``graceful_timeout``, run ServerStopping subscribers, exit 0.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.harness.gunicorn import ServerProcess

IN_FLIGHT = 100


async def wait_until_sleeping(
    session: aiohttp.ClientSession, server: ServerProcess, count: int
) -> None:
    """Wait until ``count`` /sleep views are awaiting in the worker."""
    deadline = time.monotonic() + 10
    while True:
        async with session.get(server.url('/sleeping')) as response:
            if await response.json() == count:
                return
        assert time.monotonic() < deadline, f'{count} requests never got in flight'
        await asyncio.sleep(0.05)


async def start_sleepers(
    session: aiohttp.ClientSession, server: ServerProcess, count: int, seconds: float
) -> list[asyncio.Future[Any]]:
    async def one() -> tuple[int, Any]:
        async with session.get(server.url(f'/sleep?seconds={seconds}')) as response:
            return response.status, await response.json()

    sleepers = [asyncio.ensure_future(one()) for _ in range(count)]
    await wait_until_sleeping(session, server, count)
    return sleepers


def lifecycle_events(events_file: Path) -> list[str]:
    return [line.split()[0] for line in events_file.read_text().splitlines()]


@pytest.mark.timeout(60)
async def test_sigterm_lets_requests_in_flight_finish(
    serve: Callable[..., ServerProcess], events_file: Path
) -> None:
    server = serve('--graceful-timeout', '10')
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        sleepers = await start_sleepers(session, server, IN_FLIGHT, 2.0)
        signalled = time.monotonic()
        server.send_signal(signal.SIGTERM)
        results = await asyncio.gather(*sleepers)
        finished = time.monotonic() - signalled

    assert results == [(200, {'slept': 2.0})] * IN_FLIGHT
    assert finished < 5
    assert server.wait(15) == 0
    log = server.log()
    assert 'Waiting up to' in log and f'for {IN_FLIGHT} requests in flight' in log
    [worker] = server.worker_pids()
    assert events_file.read_text().split('\n')[:2] == [
        f'started {worker}',
        f'stopping {worker}',
    ]


@pytest.mark.timeout(60)
async def test_graceful_timeout_bounds_the_wait(
    serve: Callable[..., ServerProcess], events_file: Path
) -> None:
    server = serve('--graceful-timeout', '2')
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        sleepers = await start_sleepers(session, server, 10, 30.0)
        signalled = time.monotonic()
        server.send_signal(signal.SIGTERM)
        results = await asyncio.gather(*sleepers, return_exceptions=True)
        assert server.wait(15) == 0
        stopped = time.monotonic() - signalled

    # cut off after graceful_timeout: the connections were closed unanswered
    assert all(isinstance(r, aiohttp.ClientError) for r in results), results
    assert 1.5 < stopped < 5
    # ServerStopping subscribers still ran
    assert lifecycle_events(events_file) == ['started', 'stopping']


@pytest.mark.timeout(60)
@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGQUIT])
async def test_sigint_and_sigquit_stop_at_once(
    serve: Callable[..., ServerProcess], events_file: Path, sig: signal.Signals
) -> None:
    server = serve('--graceful-timeout', '20')
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        sleepers = await start_sleepers(session, server, 10, 30.0)
        signalled = time.monotonic()
        server.send_signal(sig)
        results = await asyncio.gather(*sleepers, return_exceptions=True)
        server.wait(15)
        stopped = time.monotonic() - signalled

    assert all(isinstance(r, aiohttp.ClientError) for r in results), results
    assert stopped < 3, f'took {stopped:.1f}s with graceful_timeout = 20s'
    assert lifecycle_events(events_file) == ['started', 'stopping']


@pytest.mark.timeout(60)
async def test_max_requests_replaces_the_worker_without_failing_requests(
    serve: Callable[..., ServerProcess],
) -> None:
    server = serve('--max-requests', '5')
    first_worker = server.worker_pids()[0]
    statuses = []
    deadline = time.monotonic() + 20
    # a connection per request: a retiring worker closes idle keep-alives
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        while len(server.worker_pids()) < 2 and time.monotonic() < deadline:
            async with session.get(server.url('/hello')) as response:
                statuses.append(response.status)
            await asyncio.sleep(0.05)
        # the new worker serves
        async with session.get(server.url('/environ')) as response:
            served_by = (await response.json())['pid']

    assert 'Max requests, shutting down' in server.log()
    assert statuses and set(statuses) == {200}
    assert served_by != first_worker
    assert served_by == server.worker_pids()[-1]


@pytest.mark.timeout(60)
def test_a_failing_startup_subscriber_stops_gunicorn(
    serve: Callable[..., ServerProcess],
) -> None:
    server = serve(ready_path=None, **{'servingapp.fail_startup': 'true'})
    # the worker never reports itself booted: the master halts instead of
    # respawning workers forever
    assert server.wait(30) != 0
    log = server.log()
    assert 'startup failed on purpose' in log
    assert 'Worker failed to boot' in log


def process_exists(pid: int) -> bool:
    return Path(f'/proc/{pid}').exists()


async def raw_request(server: ServerProcess, path: str) -> bytes:
    """A GET on its own connection; everything received until it closes.

    Not aiohttp's client: it retries a GET once when the connection drops.
    """
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(f'GET {path} HTTP/1.1\r\nHost: t\r\n\r\n'.encode())
    try:
        return await reader.read()
    finally:
        writer.close()


@pytest.mark.timeout(60)
async def test_sigquit_during_a_graceful_stop_ends_it_at_once(
    serve: Callable[..., ServerProcess],
) -> None:
    server = serve('--graceful-timeout', '20')
    [worker] = server.worker_pids()
    sleepers = [
        asyncio.ensure_future(raw_request(server, '/sleep?seconds=30'))
        for _ in range(5)
    ]
    async with aiohttp.ClientSession() as session:
        await wait_until_sleeping(session, server, 5)
    # signals to the worker itself: the master stays up and replaces it
    os.kill(worker, signal.SIGTERM)
    server.wait_for_log('Waiting up to 1[0-9].[0-9]s for 5 requests in flight')
    assert process_exists(worker)  # waiting for its requests, gracefully
    quit_at = time.monotonic()
    os.kill(worker, signal.SIGQUIT)
    received = await asyncio.wait_for(asyncio.gather(*sleepers), 5)
    assert time.monotonic() - quit_at < 3, 'SIGQUIT did not end the wait'
    assert received == [b''] * 5  # cut off, unanswered
    while process_exists(worker):
        assert time.monotonic() - quit_at < 3, 'the worker did not exit'
        await asyncio.sleep(0.05)
