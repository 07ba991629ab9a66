"""Streaming response bodies, and closing them (aiotao.serving.streaming)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from aiotao.serving.responses import InvalidResponse, ResponseStart, WSGIResponse
from aiotao.serving.streaming import BodyStream, may_have_body

START = ResponseStart(200, 'OK', [])


async def collect(stream: BodyStream) -> list[bytes]:
    try:
        return [chunk async for chunk in stream]
    finally:
        await stream.aclose()


class Tracked:
    """A sync body that records the threads it runs in, and its close()."""

    def __init__(self, chunks: list[bytes], pause: float = 0.0) -> None:
        self.chunks = chunks
        self.pause = pause
        self.threads: set[str] = set()
        self.closed_in: str | None = None
        self.produced = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            self.threads.add(threading.current_thread().name)
            time.sleep(self.pause)
            self.produced += 1
            yield chunk

    def close(self) -> None:
        self.closed_in = threading.current_thread().name


async def test_lists_are_sent_as_they_are_with_the_prefix_first() -> None:
    response = WSGIResponse(START, [b'b', b'', b'c'], prefix=[b'a'])
    assert await collect(BodyStream(response)) == [b'a', b'b', b'c']


async def test_blocking_iterators_run_in_threads_and_are_closed() -> None:
    body = Tracked([b'1', b'2', b'3'])
    assert await collect(BodyStream(WSGIResponse(START, body))) == [b'1', b'2', b'3']
    main = threading.current_thread().name
    assert body.threads and main not in body.threads
    assert body.closed_in not in (None, main)


async def test_the_loop_stays_free_while_a_chunk_is_produced() -> None:
    body = Tracked([b'slow'], pause=0.3)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.ensure_future(ticker())
    await collect(BodyStream(WSGIResponse(START, body)))
    task.cancel()
    assert ticks > 10


async def test_async_iterables_are_awaited_and_closed() -> None:
    closed = []

    async def events() -> AsyncIterator[bytes]:
        try:
            for n in range(3):
                await asyncio.sleep(0)
                yield f'event {n}\n'.encode()
        finally:
            closed.append(True)

    body = events()
    stream = BodyStream(WSGIResponse(START, body))
    assert await stream.__anext__() == b'event 0\n'
    await stream.aclose()  # the client left after one event
    assert closed == [True]


async def test_no_body_for_head_but_still_closed() -> None:
    body = Tracked([b'never read'])
    assert await collect(BodyStream(WSGIResponse(START, body), send_body=False)) == []
    assert body.produced == 0
    assert body.closed_in is not None


async def test_close_waits_for_a_chunk_still_being_made_after_a_cancel() -> None:
    body = Tracked([b'slow', b'never'], pause=0.3)
    stream = BodyStream(WSGIResponse(START, body))
    pending = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0.05)
    pending.cancel()  # the client went away while next() ran in a thread
    with pytest.raises(asyncio.CancelledError):
        await pending
    # close() must not run concurrently with the generator's next()
    # ("generator already executing"): it waits for it
    await stream.aclose()
    assert body.produced == 1
    assert body.closed_in is not None
    await stream.aclose()  # twice is fine


async def test_non_bytes_chunks_are_an_application_error() -> None:
    with pytest.raises(InvalidResponse, match='yielded str, not bytes'):
        await collect(BodyStream(WSGIResponse(START, iter(['text']))))  # type: ignore[arg-type]


def test_which_responses_have_a_body() -> None:
    assert may_have_body('GET', 200)
    assert may_have_body('POST', 404)
    assert not may_have_body('HEAD', 200)
    assert not may_have_body('GET', 204)
    assert not may_have_body('GET', 304)
    assert not may_have_body('GET', 101)
