"""The standalone server (``aiotao serve-ws``) beyond the shared websocket suite.

The suite in this directory runs against it too (``servers.py``); here is
what only it does: no HTTP, its own pings, its own stop.
"""

from __future__ import annotations

import asyncio
import base64
import os
from typing import Any

import pytest
from pyramid.config import Configurator
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed as ClientConnectionClosed

from aiotao.lifecycle import ServerStarted, ServerStopping
from aiotao.mappers import WebsocketMapper
from aiotao.serving.standalone import WebsocketServer, pyramid_application
from aiotao.websocket import WebsocketConnection
from tests.websocket.app import make_app


async def observed(app: Any, timeout: float = 10) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        seen: dict[str, Any] = await app.registry['observed'].get()
    return seen


async def test_client_that_does_not_answer_pings_is_dropped() -> None:
    app = make_app(
        **{
            'aiotao.websocket.ping_interval': '0.2',
            'aiotao.websocket.ping_timeout': '0.3',
            # the silent client does not answer the close frame either
            'aiotao.websocket.close_timeout': '0.5',
        }
    )
    async with WebsocketServer(app, '127.0.0.1', 0) as server:
        # a handshake by hand, then silence: no pong ever
        reader, writer = await asyncio.open_connection('127.0.0.1', server.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f'GET /sized HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n'
                f'Upgrade: websocket\r\nConnection: Upgrade\r\n'
                f'Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n'
            ).encode()
        )
        assert (await reader.readline()).startswith(b'HTTP/1.1 101')
        started = asyncio.get_running_loop().time()
        seen = await observed(app)
        waited = asyncio.get_running_loop().time() - started
        writer.close()
    assert seen['close_code'] == 1011  # websockets: "keepalive ping timeout"
    assert 'keepalive ping timeout' in seen['close_reason']
    assert 0.4 < waited < 3


async def test_stop_closes_connections_with_1001_and_notifies_lifecycle() -> None:
    app = make_app()
    events: list[str] = []
    app.registry.registerHandler(lambda e: events.append('started'), (ServerStarted,))
    app.registry.registerHandler(lambda e: events.append('stopping'), (ServerStopping,))
    server = WebsocketServer(app, '127.0.0.1', 0)
    await server.start()
    assert events == ['started']
    async with connect(f'ws://127.0.0.1:{server.port}/sized') as client:
        await client.send('abc')
        assert await client.recv() == '3'
        await server.stop(timeout=5)
        with pytest.raises(ClientConnectionClosed):
            await client.recv()
    assert (client.close_code, client.close_reason) == (1001, 'server shutting down')
    seen = await observed(app)
    assert seen['close_code'] == 1001  # what the view saw
    assert events == ['started', 'stopping']
    with pytest.raises(OSError):  # no longer listening
        await asyncio.open_connection('127.0.0.1', server.port)
    await server.stop()  # twice is fine


async def stubborn(ws: WebsocketConnection) -> None:
    """A view that ignores the end of its connection."""
    ws.request.registry['entered'].set()
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        ws.request.registry['cancelled'].set()
        raise


async def test_views_still_running_at_the_deadline_are_cancelled() -> None:
    # a cancelled view gets close_timeout to clean up, then is cancelled
    config = Configurator(settings={'aiotao.websocket.close_timeout': '0.5'})
    config.include('aiotao')
    config.add_route('stubborn', '/stubborn')
    config.add_view(stubborn, route_name='stubborn', mapper=WebsocketMapper)
    app = config.make_wsgi_app()
    app.registry['entered'] = asyncio.Event()
    app.registry['cancelled'] = asyncio.Event()
    server = WebsocketServer(app, '127.0.0.1', 0)
    await server.start()
    async with connect(f'ws://127.0.0.1:{server.port}/stubborn') as client:
        async with asyncio.timeout(5):
            await app.registry['entered'].wait()
        loop = asyncio.get_running_loop()
        started = loop.time()
        await server.stop(timeout=0.5)
        assert loop.time() - started < 3
        assert app.registry['cancelled'].is_set()
        with pytest.raises(ClientConnectionClosed):
            await client.recv()
    assert client.close_code == 1001


def test_only_pyramid_applications_can_be_served() -> None:
    def wsgi_app(environ: Any, start_response: Any) -> list[bytes]:
        return []

    with pytest.raises(TypeError) as error:
        pyramid_application(wsgi_app)
    assert 'is not a Pyramid application' in str(error.value)
    config = Configurator(settings={})
    config.include('aiotao')
    assert pyramid_application(config).registry is config.registry
