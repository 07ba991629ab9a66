"""TestClient's websockets: the real connection over an in-memory transport.

What it shares with a real server (messages, close codes, refused
handshakes) is in ``test_parity.py``; here: handshake checks a test needs
to see (permission, origin, malformed), flow control, timeouts, closing
from either side, and shutdown.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pyramid.config import Configurator

from aiotao.mappers import WebsocketMapper
from aiotao.testing import TestClient, WebsocketRejected
from aiotao.websocket import ConnectionClosed
from tests.testing.app import make_config, ws_echo


async def observed(client: TestClient, timeout: float = 10) -> Any:
    assert client.registry is not None
    async with asyncio.timeout(timeout):
        return await client.registry.setdefault('observed', asyncio.Queue()).get()


async def test_a_view_with_permission_refuses_the_handshake_with_403() -> None:
    async with TestClient(make_config()) as client:
        for headers in ({}, {'X-User': 'eve'}):
            with pytest.raises(WebsocketRejected) as refused:
                async with client.websocket_connect('/ws/private', headers=headers):
                    pass
            assert refused.value.status_int == 403
            assert refused.value.response.status == '403 Forbidden'
            assert 'ws_private failed permission check' in refused.value.response.text
        async with client.websocket_connect(
            '/ws/private', headers={'X-User': 'admin'}
        ) as ws:
            assert await ws.recv() == 'hello admin'


async def test_the_origin_check_refuses_foreign_origins_with_403() -> None:
    async with TestClient(make_config()) as client:
        with pytest.raises(WebsocketRejected) as refused:
            async with client.websocket_connect(
                '/ws/echo', origin='https://evil.example'
            ):
                pass
        assert refused.value.status_int == 403
        assert (
            "origin 'https://evil.example' is not allowed to open websockets "
            "here (this server is 'http://testserver')" in str(refused.value)
        )
        # the client's own origin, and no Origin at all (not a browser), pass
        async with client.websocket_connect('/ws/echo', origin='http://testserver'):
            pass
        async with client.websocket_connect('/ws/echo'):
            pass


async def test_origin_settings_apply() -> None:
    config = make_config(
        **{
            'aiotao.websocket.allowed_origins': 'https://app.example',
            'aiotao.websocket.allow_missing_origin': 'false',
        }
    )
    async with TestClient(config) as client:
        async with client.websocket_connect('/ws/echo', origin='https://app.example'):
            pass
        with pytest.raises(WebsocketRejected, match='no Origin header') as refused:
            async with client.websocket_connect('/ws/echo'):
                pass
        assert refused.value.status_int == 403


async def test_a_malformed_handshake_gets_400() -> None:
    async with TestClient(make_config()) as client:
        with pytest.raises(WebsocketRejected) as refused:
            async with client.websocket_connect(
                '/ws/echo', headers={'Sec-WebSocket-Version': '8'}
            ):
                pass
    assert refused.value.status_int == 400
    assert "unsupported Sec-WebSocket-Version '8'" in refused.value.response.text


async def test_without_upgrade_header_the_request_is_plain_http() -> None:
    async with TestClient(make_config()) as client:
        with pytest.raises(WebsocketRejected) as refused:
            async with client.websocket_connect('/ws/echo', headers={'Upgrade': ''}):
                pass
    assert refused.value.status_int == 400
    assert 'This URL is a websocket endpoint' in refused.value.response.text


async def test_a_plain_wsgi_app_cannot_upgrade() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [b'no websockets here']

    async with TestClient(app) as client:
        with pytest.raises(WebsocketRejected) as refused:
            async with client.websocket_connect('/'):
                pass
    assert refused.value.response.text == 'no websockets here'


async def test_an_error_before_the_handshake_is_raised_or_a_500() -> None:
    def broken_root(request: Any) -> Any:
        raise RuntimeError('no root today')

    config = Configurator(settings={})
    config.include('aiotao')
    config.add_route('echo', '/echo', factory=broken_root)
    config.add_view(ws_echo, route_name='echo', mapper=WebsocketMapper)
    app = config.make_wsgi_app()
    async with TestClient(app) as client:
        with pytest.raises(RuntimeError, match='no root today'):
            async with client.websocket_connect('/echo'):
                pass
    async with TestClient(app, raise_server_exceptions=False) as client:
        with pytest.raises(WebsocketRejected) as refused:
            async with client.websocket_connect('/echo'):
                pass
    assert refused.value.status_int == 500


async def test_the_view_sees_the_clients_close_code_and_reason() -> None:
    async with TestClient(make_config()) as client:
        async with client.websocket_connect('/ws/observed') as ws:
            await ws.send('one')
            assert await ws.recv() == 'one'
            await ws.close(4001, 'leaving')
            assert (ws.close_code, ws.close_reason) == (4001, 'leaving')
        assert await observed(client) == (4001, 'leaving')


async def test_after_the_servers_close_send_and_recv_raise() -> None:
    async with TestClient(make_config()) as client:
        async with client.websocket_connect('/ws/bye') as ws:
            assert await ws.recv() == 'bye'
            for _ in range(2):
                with pytest.raises(ConnectionClosed, match='4000'):
                    await ws.recv()
            with pytest.raises(ConnectionClosed) as closed:
                await ws.send('anyone?')
            assert closed.value.code == 4000
            assert ws.closed
            await ws.close()  # closing again is harmless


async def test_iteration_ends_on_a_normal_close_and_raises_on_an_error() -> None:
    async with TestClient(make_config()) as client:
        async with client.websocket_connect('/ws/subprotocol') as ws:
            assert [message async for message in ws] == ['none']
        async with client.websocket_connect('/ws/fail') as ws:
            await ws.send('go')
            with pytest.raises(ConnectionClosed, match='1011'):
                async for _ in ws:
                    pass


async def test_recv_gives_up_after_its_timeout() -> None:
    async with TestClient(make_config()) as client:
        async with client.websocket_connect('/ws/echo', timeout=5) as ws:
            with pytest.raises(
                TimeoutError, match=r'no message .* /ws/echo within 0\.1 s'
            ):
                await ws.recv(timeout=0.1)
            await ws.send('still open')
            assert await ws.recv() == 'still open'


async def test_a_client_that_does_not_read_is_dropped_as_too_slow() -> None:
    # the view's send() waits once the client's buffer is full; after
    # aiotao.websocket.send_timeout (1 s here) the client is dropped, 1008
    async with TestClient(make_config()) as client:
        async with client.websocket_connect('/ws/flood') as ws:
            sent, code, reason = await observed(client)
            assert code == 1008
            assert 'too slow' in reason
            assert 60 <= sent <= 70  # about 4 MiB of 64 KiB messages
            received = 0
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await ws.recv()
                    received += 1
            assert closed.value.code == 1008
            # the message whose send() timed out was in the buffer already,
            # as bytes are in a socket's buffer when a write times out
            assert received == sent + 1


async def test_a_view_that_ignores_the_close_is_cancelled_in_the_end() -> None:
    config = make_config(**{'aiotao.websocket.close_timeout': '0.2'})
    async with TestClient(config) as client:
        async with client.websocket_connect('/ws/deaf', timeout=0.2) as ws:
            pass
        # the view never answered the close: the client dropped it, then the
        # request was cancelled as a server cancels it once its client left
        assert ws.close_code == 1006
        assert await observed(client) == 'cancelled'


async def test_groups_broadcast_between_sessions() -> None:
    async with TestClient(make_config()) as client:
        async with (
            client.websocket_connect('/ws/room/blue') as alice,
            client.websocket_connect('/ws/room/blue') as bob,
            client.websocket_connect('/ws/room/red') as carol,
        ):
            for ws in (alice, bob, carol):
                assert await ws.recv() == 'joined'
            await alice.send('hello blue')
            assert await alice.recv() == 'hello blue'
            assert await bob.recv() == 'hello blue'
            with pytest.raises(TimeoutError):
                await carol.recv(timeout=0.1)


async def test_leaving_the_client_closes_open_websockets_with_1001() -> None:
    async with TestClient(make_config()) as client:
        session = await client.websocket_connect('/ws/observed').__aenter__()
        await session.send('ping')
        assert await session.recv() == 'ping'  # the view is running
    # the client shut down as a server does: 1001, and the view finished
    assert await observed(client) == (1001, 'server shutting down')
    with pytest.raises(ConnectionClosed) as closed:
        await session.recv()
    assert (closed.value.code, closed.value.reason) == (1001, 'server shutting down')


async def test_an_exception_in_the_test_is_not_hidden_by_the_close() -> None:
    async with TestClient(make_config()) as client:
        with pytest.raises(KeyError):
            async with client.websocket_connect('/ws/echo'):
                raise KeyError('the test failed')
