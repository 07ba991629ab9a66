"""WebsocketMapper: configuration errors, the handshake checks, WSGI servers.

The same behaviour over real sockets is in ``tests/websocket/``; here the
pipeline runs on a dummy transport, or under WebTest (plain WSGI).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError
from pyramid.httpexceptions import HTTPForbidden
from pyramid.request import Request
from webtest import TestApp

from aiotao import make_async_app
from aiotao.mappers import WebsocketMapper
from aiotao.websocket import TRANSPORT_ENVIRON_KEY, State, WebsocketConnection
from tests.websocket.dummies import DummyTransport

UPGRADE = {
    'Upgrade': 'websocket',
    'Connection': 'Upgrade',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version': '13',
}

seen: list[Any] = []


async def echo_once(ws: WebsocketConnection) -> None:
    seen.append(ws)
    message = await ws.recv()
    if message is not None:
        await ws.send(message)


class Guarded:
    def __init__(self, request: Request) -> None:
        if 'key' not in request.params:
            raise HTTPForbidden('no key')

    async def __call__(self, ws: WebsocketConnection) -> None:
        await ws.send('in')


async def broken(ws: WebsocketConnection) -> None:
    raise ValueError('broken view')


async def cleanup_after_recv(ws: WebsocketConnection) -> None:
    seen.append(await ws.recv())
    await asyncio.sleep(0)  # cleanup work after the client left
    seen.append('cleaned up')


def make_config(**settings: str) -> Configurator:
    config = Configurator(settings=settings)
    config.include('aiotao')
    config.add_route('ws', '/ws')
    config.add_view(echo_once, route_name='ws', mapper=WebsocketMapper)
    config.add_route('guarded', '/guarded')
    config.add_view(Guarded, route_name='guarded', mapper=WebsocketMapper)
    config.add_route('broken', '/broken')
    config.add_view(broken, route_name='broken', mapper=WebsocketMapper)
    config.add_route('cleanup', '/cleanup')
    config.add_view(cleanup_after_recv, route_name='cleanup', mapper=WebsocketMapper)
    return config


async def handshake(
    config: Configurator, path: str, transport: DummyTransport, **headers: str
) -> Any:
    router = make_async_app(config)
    request = Request.blank(path, headers={**UPGRADE, **headers})
    request.environ[TRANSPORT_ENVIRON_KEY] = transport
    response = await router.handle(request.environ)
    return request.get_response(response)


@pytest.fixture(autouse=True)
def forget_seen() -> None:
    seen.clear()


async def test_accepted_handshake_runs_the_view_then_closes() -> None:
    transport = DummyTransport()
    transport.feed('hi')
    response = await handshake(make_config(), '/ws', transport)
    assert response.status_int == 101
    assert transport.accepted
    assert transport.sent == ['hi']
    assert transport.closes == [(1000, '')]
    (ws,) = seen
    assert ws.state is State.CLOSED


async def test_foreign_origin_is_refused_before_accepting() -> None:
    transport = DummyTransport()
    response = await handshake(
        make_config(), '/ws', transport, Origin='https://evil.example'
    )
    assert response.status_int == 403
    assert 'is not allowed to open websockets here' in response.text
    assert not transport.accepted and not seen


async def test_class_view_init_may_refuse_the_handshake() -> None:
    transport = DummyTransport()
    response = await handshake(make_config(), '/guarded', transport)
    assert response.status_int == 403
    assert not transport.accepted
    response = await handshake(make_config(), '/guarded?key=1', DummyTransport())
    assert response.status_int == 101


async def test_malformed_handshake_gets_400_with_the_reason() -> None:
    transport = DummyTransport(refuse='the "Connection: Upgrade" header is missing')
    response = await handshake(make_config(), '/ws', transport)
    assert response.status_int == 400
    assert 'Connection: Upgrade' in response.text


async def test_view_error_closes_with_1011_and_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    transport = DummyTransport()
    with caplog.at_level(logging.ERROR):
        response = await handshake(make_config(), '/broken', transport)
    assert response.status_int == 101
    assert transport.closes == [(1011, 'internal server error')]
    assert 'websocket view' in caplog.records[0].getMessage()


async def test_cancelled_request_lets_the_view_clean_up() -> None:
    # aiohttp cancels the request when the client's connection is lost
    transport = DummyTransport()
    task = asyncio.create_task(handshake(make_config(), '/cleanup', transport))
    async with asyncio.timeout(5):  # the view waits in recv()
        while not transport.receives:
            await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == [None, 'cleaned up']
    assert transport.closes == [(1001, 'going away')]


def test_sync_view_is_a_configuration_error() -> None:
    def sync_view(ws: WebsocketConnection) -> None: ...

    config = Configurator()
    config.include('aiotao')
    config.add_route('ws', '/ws')
    config.add_view(sync_view, route_name='ws', mapper=WebsocketMapper)
    with pytest.raises(ConfigurationError, match='must be a coroutine function'):
        config.commit()


def test_unbound_method_is_a_configuration_error() -> None:
    config = Configurator()
    config.include('aiotao')
    config.add_route('ws', '/ws')
    config.add_view(Guarded.__call__, route_name='ws', mapper=WebsocketMapper)
    with pytest.raises(ConfigurationError, match='attr='):
        config.commit()


def test_views_describe_themselves_for_pviews() -> None:
    mapped = WebsocketMapper()(echo_once)
    assert mapped.__text__ == (
        f'websocket view function {echo_once.__module__}.echo_once'
    )


def test_under_plain_wsgi_an_upgrade_gets_501_naming_the_servers() -> None:
    app = TestApp(make_config().make_wsgi_app())
    response = app.get('/ws', headers=UPGRADE, status=501)
    assert 'aiotao.serving.gunicorn.Worker' in response.text
    assert 'aiotao.serving.asgi' in response.text


def test_under_plain_wsgi_a_plain_get_gets_400_with_a_message() -> None:
    app = TestApp(make_config().make_wsgi_app())
    response = app.get('/ws', status=400)
    assert 'This URL is a websocket endpoint' in response.text


async def _speaks(ws: Any) -> None:
    await ws.send(ws.subprotocol or 'none')


_speaks.__websocket_subprotocols__ = ('game.v2', 'game.v1')  # type: ignore[attr-defined]


async def test_a_view_may_declare_the_subprotocols_it_speaks() -> None:
    from aiotao.testing import TestClient

    config = Configurator()
    config.include('aiotao')
    config.include('aiotao.websocket')
    config.add_route('speaks', '/speaks')
    config.add_view(_speaks, route_name='speaks', mapper=WebsocketMapper)
    config.add_route('told', '/told')
    config.add_view(
        _speaks,
        route_name='told',
        mapper=WebsocketMapper.with_subprotocols('chat.v1'),
    )
    async with TestClient(config) as client:
        for path, offered, agreed in [
            ('/speaks', ['game.v1', 'game.v2'], 'game.v1'),
            ('/speaks', ['game.v3'], 'none'),
            ('/speaks', [], 'none'),
            # the mapper's own list, when it has one, is the one negotiated
            ('/told', ['game.v1', 'chat.v1'], 'chat.v1'),
        ]:
            async with client.websocket_connect(path, subprotocols=offered) as ws:
                assert await ws.recv() == agreed
