"""The request's thread: one thread per request for its synchronous parts."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from aiotao import threads
from aiotao.sync import wait_for
from aiotao.threads import Lane, ThreadPool, current_lane


async def test_a_lane_runs_everything_in_one_thread_that_is_not_the_loops() -> None:
    lane = Lane(ThreadPool(4))
    try:
        seen = {await lane.run(threading.get_ident) for _ in range(5)}
    finally:
        lane.release()
    assert len(seen) == 1
    assert seen != {threading.get_ident()}


async def test_sync_code_waiting_for_async_code_gets_its_sync_parts_back() -> None:
    """A sync tween -> an async tween -> a sync view: the view is in the tween's thread."""
    lane = Lane(ThreadPool(4))
    token = current_lane.set(lane)

    def sync_view() -> int:
        return threading.get_ident()

    async def async_middle() -> int:
        await asyncio.sleep(0)
        return await lane.run(sync_view)

    def sync_outer() -> tuple[int, int]:
        return threading.get_ident(), wait_for(async_middle, 'async_middle()')

    try:
        outer, inner = await lane.run(sync_outer)
    finally:
        current_lane.reset(token)
        lane.release()
    assert outer == inner


async def test_requests_wait_for_a_thread_when_all_are_lent() -> None:
    pool = ThreadPool(1)
    first, second = Lane(pool), Lane(pool)
    await first.run(time.sleep, 0)
    waiting = asyncio.ensure_future(second.run(threading.get_ident))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # the only thread is the first request's
    first.release()
    assert await asyncio.wait_for(waiting, 5) is not None
    second.release()
    assert pool.started == 1


async def test_a_cancelled_requests_busy_thread_is_not_lent_until_it_is_done() -> None:
    pool = ThreadPool(1)
    first, second = Lane(pool), Lane(pool)
    finished = threading.Event()

    def slow() -> None:
        time.sleep(0.3)
        finished.set()

    running = asyncio.ensure_future(first.run(slow))
    await asyncio.sleep(0.05)
    running.cancel()  # the client left while the sync view ran
    first.release()
    await second.run(lambda: None)
    # the second request got the thread only after the first's work ended
    assert finished.is_set()
    second.release()


async def test_idle_threads_end(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, 'IDLE_SECONDS', 0.05)
    pool = ThreadPool(2)
    lane = Lane(pool)
    await lane.run(lambda: None)
    lane.release()
    assert pool.started == 1
    deadline = time.monotonic() + 5
    while pool.started and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert pool.started == 0


def test_a_pool_needs_a_thread() -> None:
    with pytest.raises(ValueError, match='at least one thread'):
        ThreadPool(0)
