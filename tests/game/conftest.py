"""Fixtures: the game application on a real server in the test's loop."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack

import pytest
from pymongo import AsyncMongoClient

from aiotao.game.directory import (
    MemoryDirectory,
    MongoDirectory,
    RedisDirectory,
    RoomDirectory,
)
from tests.game.app import make_app
from tests.harness.gunicorn import gunicorn, server_process
from tests.harness.mongodb import mongo_uri, mongodb
from tests.harness.redis import RedisServer, redis_server
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


@pytest.fixture(params=['memory', 'redis', 'mongodb'])
async def directory(request: pytest.FixtureRequest) -> AsyncIterator[RoomDirectory]:
    """A room directory of each kind, on a real Redis or MongoDB of the test's own."""
    if request.param == 'memory':
        yield MemoryDirectory()
        return
    if request.param == 'mongodb':
        uri: str = request.getfixturevalue('mongo_uri')
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(uri)
        try:
            yield MongoDirectory(lambda: client.get_default_database())
        finally:
            await client.close()
        return
    server: RedisServer = request.getfixturevalue('redis_server')
    redis_directory = RedisDirectory(server.url)
    yield redis_directory
    await redis_directory.close()
