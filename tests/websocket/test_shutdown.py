"""Closing every connection of the process (what servers do on SIGTERM)."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed as ClientConnectionClosed

from aiotao.websocket.shutdown import close_all, open_connections
from tests.websocket.servers import RunningServer


async def test_close_all_sends_1001_to_every_client(server: RunningServer) -> None:
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(connect(server.ws('/echo')))
            for _ in range(5)
        ]
        for client in clients:  # each handshake is complete on the server
            await client.send('ping')
            assert await client.recv() == 'ping'
        assert len(open_connections()) == 5

        async with asyncio.timeout(5):
            assert await close_all() == 5

        for client in clients:
            with pytest.raises(ClientConnectionClosed):
                await client.recv()
            assert client.close_code == 1001
            assert client.close_reason == 'server shutting down'
    assert open_connections() == frozenset()


async def test_close_all_without_connections_is_a_no_op() -> None:
    assert await close_all() == 0
