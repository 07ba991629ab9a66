"""Fixtures for the chat tests: MongoDB, gunicorn, redis, the app in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import pytest

from aiotao.testing import TestClient
from tests.chat.app import make_config
from tests.harness.gunicorn import gunicorn
from tests.harness.mongodb import mongo_db, mongo_uri, mongodb, private_mongodb

__all__ = ['gunicorn', 'mongo_db', 'mongo_uri', 'mongodb', 'private_mongodb']

#: Short presence timings: a dead worker's members go within a second or two.
FAST = {
    'aiotao.presence.heartbeat': '0.3',
    'aiotao.presence.timeout': '1.5',
    'aiotao.presence.linger': '0.3',
}

StartClient = Callable[..., Awaitable[TestClient]]


@pytest.fixture
async def start_client(mongo_uri: str) -> AsyncIterator[StartClient]:
    """``await start_client(**settings)``: the chat app in-process, started."""
    async with AsyncExitStack() as stack:

        async def start(**settings: Any) -> TestClient:
            config = make_config({'mongo.uri': mongo_uri, **FAST, **settings})
            return await stack.enter_async_context(TestClient(config))

        yield start


@pytest.fixture
async def client(start_client: StartClient) -> TestClient:
    return await start_client()
