"""A client that disconnects while its view awaits leaves the worker healthy.

aiohttp cancels the request's task; the view sees CancelledError, which
must reach the server (never swallowed), the request's finished callbacks
still run, and the worker neither leaks nor spins (aiopyramid locks up at
100% CPU exactly here on current Python).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiohttp
import pytest

from tests.harness.gunicorn import ServerProcess
from tests.reliability.probes import cpu_seconds

CLIENTS = 20


async def view_events(server: ServerProcess) -> list[str]:
    async with aiohttp.ClientSession() as session:
        async with session.get(server.url('/events')) as response:
            events: list[str] = await response.json()
            return events


async def wait_for_events(server: ServerProcess, expected: set[str]) -> list[str]:
    deadline = time.monotonic() + 10
    while True:
        events = await view_events(server)
        if expected <= set(events):
            return events
        assert time.monotonic() < deadline, f'missing {expected - set(events)}'
        await asyncio.sleep(0.05)


async def connect_then_leave(server: ServerProcess, path: str, name: str) -> None:
    """Send a request, wait until its view runs, then drop the connection."""
    _, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(f'GET {path} HTTP/1.1\r\nHost: t\r\n\r\n'.encode())
    await writer.drain()
    await wait_for_events(server, {f'started {name}'})
    writer.close()
    await writer.wait_closed()


@pytest.mark.timeout(60)
async def test_disconnect_cancels_the_view_and_runs_finished_callbacks(
    serve: Callable[..., ServerProcess],
) -> None:
    server = serve()
    [worker] = server.worker_pids()
    for n in range(CLIENTS):
        await connect_then_leave(server, f'/hang?id={n}', str(n))

    expected = {
        f'{what} {n}' for n in range(CLIENTS) for what in ('cancelled', 'finished')
    }
    events = await wait_for_events(server, expected)
    for n in range(CLIENTS):
        mine = [event for event in events if event.endswith(f' {n}')]
        assert mine == [f'started {n}', f'cancelled {n}', f'finished {n}']

    # idle now: the worker must not spin
    before = cpu_seconds(worker)
    await asyncio.sleep(1.5)
    used = cpu_seconds(worker) - before
    assert used < 0.2, f'the idle worker used {used:.2f}s of CPU in 1.5s'
    assert server.worker_pids() == [worker]
    assert 'Traceback' not in server.log()


@pytest.mark.timeout(60)
async def test_views_run_to_completion_when_cancel_on_disconnect_is_off(
    serve: Callable[..., ServerProcess],
) -> None:
    server = serve(**{'aiotao.cancel_on_disconnect': 'false'})
    await connect_then_leave(server, '/hang?id=x&seconds=0.5', 'x')
    events = await wait_for_events(server, {'completed x', 'finished x'})
    assert 'cancelled x' not in events
