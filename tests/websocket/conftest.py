"""Fixtures: the test application served by each kind of server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack

import pytest

from tests.websocket.app import make_app
from tests.websocket.servers import SERVERS, RunningServer, serve

StartServer = Callable[..., Awaitable[RunningServer]]


@pytest.fixture(params=SERVERS)
def server_kind(request: pytest.FixtureRequest) -> str:
    """Each test using a server runs once per kind of server."""
    return str(request.param)


@pytest.fixture
async def start(server_kind: str) -> AsyncIterator[StartServer]:
    """``await start(**settings)``: serve the test app with these settings."""
    async with AsyncExitStack() as stack:

        async def start_server(**settings: str) -> RunningServer:
            return await stack.enter_async_context(
                serve(server_kind, make_app(**settings))
            )

        yield start_server


@pytest.fixture
async def server(start: StartServer) -> RunningServer:
    """The test app with its default settings."""
    return await start()
