"""Websocket upgrades through the worker (the views' own behaviour is tested
with the websocket package; here: the server side of the contract)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

import aiohttp
import pytest
import websockets
from websockets.asyncio.client import connect

from tests.harness.gunicorn import ServerProcess


async def test_echo(serve: Callable[..., ServerProcess]) -> None:
    server = serve()
    async with connect(server.url('/echo', scheme='ws')) as ws:
        await ws.send('text')
        assert await ws.recv() == 'text'
        await ws.send(b'\x00binary')
        assert await ws.recv() == b'\x00binary'
    server.wait_for_log(r'"GET /echo HTTP/1.1" 101 ')


async def test_a_handshake_the_pipeline_refuses_gets_its_http_response(
    serve: Callable[..., ServerProcess],
) -> None:
    server = serve()
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with connect(server.url('/nowhere', scheme='ws')):
            pass
    assert refused.value.response.status_code == 404
    # the worker goes on
    async with connect(server.url('/echo', scheme='ws')) as ws:
        await ws.send('still here')
        assert await ws.recv() == 'still here'


async def test_a_plain_request_to_a_websocket_view_gets_400(
    serve: Callable[..., ServerProcess],
) -> None:
    server = serve()
    async with aiohttp.ClientSession() as session:
        async with session.get(server.url('/echo')) as response:
            assert response.status == 400
            assert 'connect to it with a websocket client' in await response.text()
        async with session.get(server.url('/hello')) as response:
            assert await response.text() == 'Hello, world!'


@pytest.mark.timeout(60)
async def test_sigterm_closes_open_websockets_with_1001_and_finishes_requests(
    serve: Callable[..., ServerProcess],
) -> None:
    server = serve('--graceful-timeout', '10')
    sockets = [await connect(server.url('/echo', scheme='ws')) for _ in range(5)]
    for ws in sockets:
        await ws.send('ping')
        assert await ws.recv() == 'ping'
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0)
    ) as session:

        async def sleeper() -> int:
            async with session.get(server.url('/sleep?seconds=1.5')) as response:
                await response.read()
                return response.status

        sleepers = [asyncio.ensure_future(sleeper()) for _ in range(10)]
        await asyncio.sleep(0.5)
        server.send_signal(signal.SIGTERM)
        for ws in sockets:
            await asyncio.wait_for(ws.wait_closed(), 5)
            assert ws.close_code == 1001
            assert ws.close_reason == 'server shutting down'
        assert await asyncio.gather(*sleepers) == [200] * 10
    assert server.wait(15) == 0
