"""Fixtures: the game application on a real server in the test's loop."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack

import pytest

from tests.game.app import make_app
from tests.harness.gunicorn import gunicorn, server_process
from tests.harness.mongodb import mongo_uri, mongodb
from tests.harness.redis import redis_server
from tests.websocket.servers import RunningServer, serve

__all__ = ['gunicorn', 'mongo_uri', 'mongodb', 'redis_server', 'server_process']

StartServer = Callable[..., Awaitable[RunningServer]]


@pytest.fixture
async def start() -> AsyncIterator[StartServer]:
    """``await start(kind='aiohttp', **settings)``: serve the game app."""
    async with AsyncExitStack() as stack:

        async def start_server(kind: str = 'aiohttp', **settings: str) -> RunningServer:
            return await stack.enter_async_context(serve(kind, make_app(**settings)))

        yield start_server


@pytest.fixture
async def server(start: StartServer) -> RunningServer:
    return await start()
