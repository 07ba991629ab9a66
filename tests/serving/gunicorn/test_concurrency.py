"""One worker serves many requests at once: awaiting views hold no thread."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from tests.harness.gunicorn import ServerProcess

CONCURRENT = 1000
SLEEP = 0.5
#: Generous: the requests take SLEEP seconds each, all at once; a worker
#: serving them one by one (or 32 at a time, in threads) would need
#: 500 s (or 16 s).  The machine running the tests is small and shared.
BOUND = 2.0


async def fetch_all(url: str, count: int) -> tuple[list[tuple[int, Any]], float]:
    connector = aiohttp.TCPConnector(limit=0)  # one connection per request
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one() -> tuple[int, Any]:
            async with session.get(url) as response:
                return response.status, await response.json()

        started = time.monotonic()
        results = await asyncio.gather(*(one() for _ in range(count)))
        return results, time.monotonic() - started


@pytest.mark.timeout(120)
async def test_a_thousand_concurrent_sleeping_requests_on_one_worker(
    serve: Callable[..., ServerProcess],
) -> None:
    server = serve(access_log=False)
    # warm up: imports, first-request caches
    await fetch_all(server.url('/sleep?seconds=0'), 10)

    results, elapsed = await fetch_all(
        server.url(f'/sleep?seconds={SLEEP}'), CONCURRENT
    )

    print(f'{CONCURRENT} requests in {elapsed:.2f}s')
    assert results == [(200, {'slept': SLEEP})] * CONCURRENT
    assert elapsed < BOUND, f'{CONCURRENT} requests took {elapsed:.2f}s'
    assert len(server.worker_pids()) == 1  # one worker did it all, no restart


@pytest.mark.timeout(60)
async def test_sync_views_run_in_the_thread_pool_and_do_not_block_the_loop(
    serve: Callable[..., ServerProcess],
) -> None:
    server = serve(access_log=False, **{'aiotao.thread_pool_size': 8})
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def get(path: str) -> tuple[float, Any]:
            async with session.get(server.url(path)) as response:
                assert response.status == 200
                return time.monotonic(), await response.json()

        started = time.monotonic()
        blocking = [
            asyncio.ensure_future(get('/sync-sleep?seconds=1')) for _ in range(8)
        ]
        await asyncio.sleep(0.2)
        hello_done, _ = await get('/sleep?seconds=0')
        results = await asyncio.gather(*blocking)

    # the loop answered while eight threads were blocked in time.sleep
    assert hello_done - started < 0.8
    threads = {seen['thread'] for _, seen in results}
    assert all(name.startswith('aiotao-request') for name in threads), threads
    # eight threads (aiotao.thread_pool_size): all eight slept at once
    assert max(done for done, _ in results) - started < 1.9
