"""run_upgrade(): an upgrade request through the pipeline, without a socket.

The one copy the gunicorn worker, the ASGI adapter and the standalone
server share; here on the in-memory transport of :mod:`aiotao.testing`.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from pyramid.config import Configurator

from aiotao.mappers import WebsocketMapper
from aiotao.router import AsyncRouter
from aiotao.serving.application import PyramidApplication, served_application
from aiotao.serving.body import empty_body
from aiotao.serving.environ import RequestHead, build_environ
from aiotao.serving.responses import Environ
from aiotao.serving.settings import ServingSettings
from aiotao.serving.upgrade import refusal_body, run_upgrade
from aiotao.testing.memory_transport import Close, MemoryWebsocketTransport, Pipe
from aiotao.websocket.connection import WebsocketConnection
from aiotao.websocket.transport import TRANSPORT_ENVIRON_KEY

pytestmark = pytest.mark.timeout(10)

HANDSHAKE = [
    (b'Host', b'example.com'),
    (b'Upgrade', b'websocket'),
    (b'Connection', b'Upgrade'),
    (b'Sec-WebSocket-Version', b'13'),
    (b'Sec-WebSocket-Key', b'dGhlIHNhbXBsZSBub25jZQ=='),
]


async def hello(ws: WebsocketConnection) -> None:
    await ws.send('hello')


def router() -> AsyncRouter:
    config = Configurator(settings={})
    config.include('aiotao')
    config.add_route('hello', '/hello')
    config.add_view(hello, route_name='hello', mapper=WebsocketMapper)
    served = served_application(config.make_wsgi_app())
    assert isinstance(served, PyramidApplication)
    return served.router


def upgrade_environ(path: str, *headers: tuple[bytes, bytes]) -> Environ:
    head = RequestHead(
        method='GET',
        raw_path=path.encode(),
        query_string=b'',
        headers=[*HANDSHAKE, *headers],
        client=('127.0.0.1', 50000),
        server=('127.0.0.1', 80),
    )
    return build_environ(head, empty_body(), ServingSettings())


async def test_an_accepted_upgrade_returns_none_once_the_session_is_over() -> None:
    pipe = Pipe()
    environ = upgrade_environ('/hello')
    transport = MemoryWebsocketTransport(pipe, environ)
    assert await run_upgrade(router(), environ, transport) is None
    assert transport.accepted
    assert environ[TRANSPORT_ENVIRON_KEY] is transport
    assert pipe.to_client.get_nowait() == 'hello'
    assert pipe.to_client.get_nowait() == Close(1000, '')


async def test_a_path_without_a_view_is_refused_with_the_pipeline_s_404() -> None:
    environ = upgrade_environ('/nowhere')
    transport = MemoryWebsocketTransport(Pipe(), environ)
    refusal = await run_upgrade(router(), environ, transport)
    assert refusal is not None
    assert refusal.start.status == 404
    assert not transport.accepted
    assert b'404' in await refusal_body(refusal)


async def test_a_foreign_origin_is_refused_with_403() -> None:
    environ = upgrade_environ('/hello', (b'Origin', b'https://evil.example'))
    transport = MemoryWebsocketTransport(Pipe(), environ)
    refusal = await run_upgrade(router(), environ, transport)
    assert refusal is not None and refusal.start.status == 403
    assert not transport.accepted


class DummyRouter:
    """Fails as told, after accepting the upgrade or before."""

    def __init__(self, accept_first: bool) -> None:
        self.accept_first = accept_first

    async def handle(self, environ: Environ) -> Any:
        if self.accept_first:
            await environ[TRANSPORT_ENVIRON_KEY].accept()
        raise RuntimeError('the pipeline broke')


async def test_a_pipeline_failing_before_accepting_is_a_logged_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    environ = upgrade_environ('/hello')
    transport = MemoryWebsocketTransport(Pipe(), environ)
    with caplog.at_level(logging.ERROR, logger='aiotao.serving.upgrade'):
        refusal = await run_upgrade(DummyRouter(False), environ, transport)  # type: ignore[arg-type]
    assert refusal is not None and refusal.start.status == 500
    assert 'Error handling websocket request /hello' in caplog.text


async def test_a_pipeline_failing_after_accepting_closes_with_1011(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pipe = Pipe()
    environ = upgrade_environ('/hello')
    transport = MemoryWebsocketTransport(pipe, environ)
    with caplog.at_level(logging.ERROR, logger='aiotao.serving.upgrade'):
        refusal = await run_upgrade(DummyRouter(True), environ, transport)  # type: ignore[arg-type]
    assert refusal is None
    assert pipe.server_close == Close(1011, 'internal server error')
    assert 'the pipeline broke' in caplog.text
