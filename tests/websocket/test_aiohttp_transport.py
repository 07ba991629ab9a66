"""aiohttp's transport tells when a send may wait for the client.

``WebsocketConnection`` bounds such sends with ``send_timeout`` (the slow
client tests in ``test_limits.py`` show it still drops a client that stops
reading); sends the socket takes at once are spared that timer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from aiotao.websocket.aiohttp_transport import AiohttpWebsocketTransport

Seen = dict[str, Any]


@pytest.fixture
async def answers() -> AsyncIterator[tuple[str, asyncio.Queue[Seen]]]:
    """A websocket server whose handler reports what ``send_may_wait`` says."""
    seen: asyncio.Queue[Seen] = asyncio.Queue()

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        transport = AiohttpWebsocketTransport(request)
        await transport.accept()
        high_water = request.transport.get_write_buffer_limits()[1]  # type: ignore[union-attr]
        report: Seen = {
            'small text': transport.send_may_wait('hello'),
            'small bytes': transport.send_may_wait(b'hello'),
            # UTF-8 may take 4 bytes a character: this may not fit
            'text over a quarter of the mark': transport.send_may_wait(
                'x' * (high_water // 4 + 1)
            ),
            'bytes over the mark': transport.send_may_wait(b'x' * (high_water + 1)),
        }
        # the client stops reading: the buffer fills up, sends would wait
        while not request.protocol.writing_paused:
            await transport.send(b'x' * 65536)
        report['once paused'] = transport.send_may_wait(b'x')
        await seen.put(report)
        transport.abort()
        return transport.response

    server = web.Server(handler)
    loop = asyncio.get_running_loop()
    listener = await loop.create_server(server, '127.0.0.1', 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        yield f'ws://127.0.0.1:{port}/', seen
    finally:
        listener.close()
        await server.shutdown(1)


@pytest.mark.timeout(20)
async def test_only_sends_that_may_wait_say_so(
    answers: tuple[str, asyncio.Queue[Seen]],
) -> None:
    url, seen = answers
    async with aiohttp.ClientSession() as session:
        # a client that never reads after the handshake
        async with session.ws_connect(url, max_msg_size=0) as ws:
            report = await asyncio.wait_for(seen.get(), 10)
            await ws.close()
    assert report == {
        'small text': False,
        'small bytes': False,
        'text over a quarter of the mark': True,
        'bytes over the mark': True,
        'once paused': True,
    }


@pytest.mark.timeout(20)
async def test_a_closed_connection_is_not_kept_until_the_abort_timer() -> None:
    # After a clean close a timer aborts the socket in case the client
    # never reads; it must hold the socket, not the connection (with its
    # compressor): under churn the closed connections otherwise piled up.
    import gc
    import weakref

    from aiotao.websocket.limits import Limits

    closed: asyncio.Queue[weakref.ref[Any]] = asyncio.Queue()

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        transport = AiohttpWebsocketTransport(request)
        await transport.accept(limits=Limits(close_timeout=30))
        await transport.close(1000, 'bye')
        await closed.put(weakref.ref(transport))
        return transport.response

    server = web.Server(handler)
    loop = asyncio.get_running_loop()
    listener = await loop.create_server(server, '127.0.0.1', 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f'ws://127.0.0.1:{port}/') as ws:
                await ws.receive()  # the close frame
            gone = await closed.get()
            for _ in range(50):
                gc.collect()
                if gone() is None:
                    break
                await asyncio.sleep(0.02)
            assert gone() is None, 'the closed connection is still referenced'
    finally:
        listener.close()
        await server.shutdown(1)
