"""Fixtures: the test application served by each kind of server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack

import pytest

from tests.websocket.app import make_app
from tests.websocket.servers import SERVERS, RunningServer, serve

StartServer = Callable[..., Awaitable[RunningServer]]


#: Tests that make plain HTTP requests, which the standalone server
#: (``aiotao serve-ws``) does not serve, and why each cannot apply to it;
#: its own answer to them (426) is tested in ``tests/serving/standalone/test_server.py``.
HTTP_ONLY = {
    'test_request_has_the_session': 'it logs in over HTTP for a session cookie',
    'test_plain_http_request_gets_400_with_a_message': (
        'it makes a plain HTTP request (serve-ws answers 426: tests/serving/standalone/test_server.py)'
    ),
    'test_http_view_broadcasts_with_request_websocket_groups': (
        'it broadcasts from an HTTP view'
    ),
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, 'callspec', None)
        reason = HTTP_ONLY.get(getattr(item, 'originalname', ''))
        if reason and callspec and callspec.params.get('server_kind') == 'websockets':
            item.add_marker(
                pytest.mark.skip(
                    reason=f'HTTP only: serve-ws serves no HTTP views, and {reason}'
                )
            )


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
