"""Websocket views under real servers: the handshake is a Pyramid request.

Every test runs under aiotao's aiohttp server and under the ASGI adapter.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import socket
import struct
import urllib.error
import urllib.request

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.websocket.conftest import StartServer
from tests.websocket.servers import RunningServer


async def rejection(url: str, **kw: object) -> tuple[int, str]:
    """Status and body of a refused handshake."""
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, **kw):  # type: ignore[arg-type]
            pass
    response = refused.value.response
    return response.status_code, response.body.decode()


async def test_echo_text_and_binary(server: RunningServer) -> None:
    async with connect(server.ws('/echo')) as client:
        await client.send('hello')
        assert await client.recv() == 'hello'
        await client.send(b'\x00\xff')
        assert await client.recv() == b'\x00\xff'
    assert client.close_code == 1000


async def test_echo_keeps_order_of_many_messages(server: RunningServer) -> None:
    async with connect(server.ws('/echo')) as client:
        for i in range(200):
            await client.send(str(i))
        assert [await client.recv() for _ in range(200)] == [str(i) for i in range(200)]


async def test_request_has_matchdict_and_identity(server: RunningServer) -> None:
    async with connect(
        server.ws('/whoami/lobby'), additional_headers={'X-User': 'alice'}
    ) as client:
        seen = json.loads(await client.recv())
    assert seen == {
        'matchdict': {'name': 'lobby'},
        'identity': {'name': 'alice'},
        'userid': 'alice',
        'state': 'open',
    }


async def test_request_has_the_session(server: RunningServer) -> None:
    def login() -> str:
        url = server.http('/login?nickname=carol')
        with urllib.request.urlopen(url, timeout=10) as response:
            return str(response.headers['Set-Cookie']).split(';')[0]

    cookie = await asyncio.to_thread(login)
    async with connect(
        server.ws('/nickname'), additional_headers={'Cookie': cookie}
    ) as client:
        assert await client.recv() == 'carol'
    async with connect(server.ws('/nickname')) as client:
        assert await client.recv() == 'anonymous'


async def test_class_view_with_context_and_request(server: RunningServer) -> None:
    async with connect(server.ws('/rooms/blue')) as client:
        assert await client.recv() == 'DefaultRootFactory blue'


async def test_class_view_with_request_only_and_attr(server: RunningServer) -> None:
    async with connect(server.ws('/greet?greeting=salut')) as client:
        assert await client.recv() == 'salut'


async def test_no_route_refuses_the_handshake_with_404(server: RunningServer) -> None:
    status, _ = await rejection(server.ws('/nowhere'))
    assert status == 404


async def test_view_predicates_choose_the_view(server: RunningServer) -> None:
    async with connect(server.ws('/predicated?room=red')) as client:
        assert await client.recv() == 'red'
    status, _ = await rejection(server.ws('/predicated'))
    assert status == 404


async def test_permission_denied_refuses_the_handshake(server: RunningServer) -> None:
    status, _ = await rejection(
        server.ws('/private'), additional_headers={'X-User': 'bob'}
    )
    assert status == 403
    async with connect(
        server.ws('/private'), additional_headers={'X-User': 'admin'}
    ) as client:
        assert await client.recv() == 'secret'


async def test_foreign_origin_is_refused_with_a_message(server: RunningServer) -> None:
    status, body = await rejection(
        server.ws('/echo'),
        origin='https://evil.example',
    )
    assert status == 403
    assert "origin 'https://evil.example' is not allowed" in body
    assert 'aiotao.websocket.allowed_origins' in body


async def test_same_origin_and_no_origin_are_accepted(server: RunningServer) -> None:
    async with connect(server.ws('/echo'), origin=server.origin) as client:  # type: ignore[arg-type]
        await client.send('same origin')
        assert await client.recv() == 'same origin'
    async with connect(server.ws('/echo')) as client:  # no Origin: not a browser
        await client.send('no origin')
        assert await client.recv() == 'no origin'


async def test_allowed_origins_setting(start: StartServer) -> None:
    server = await start(
        **{'aiotao.websocket.allowed_origins': 'https://a.example https://b.example'}
    )
    for origin in ('https://a.example', 'https://B.example:443'):
        async with connect(server.ws('/echo'), origin=origin) as client:  # type: ignore[arg-type]
            await client.send(origin)
            assert await client.recv() == origin
    status, _ = await rejection(server.ws('/echo'), origin='https://c.example')
    assert status == 403


async def test_any_origin_setting(start: StartServer) -> None:
    server = await start(**{'aiotao.websocket.allowed_origins': '*'})
    async with connect(server.ws('/echo'), origin='https://c.example') as client:  # type: ignore[arg-type]
        await client.send('anyone')
        assert await client.recv() == 'anyone'


async def test_missing_origin_refused_when_required(start: StartServer) -> None:
    server = await start(**{'aiotao.websocket.allow_missing_origin': 'false'})
    status, body = await rejection(server.ws('/echo'))
    assert status == 403
    assert 'no Origin header' in body


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


async def test_plain_http_request_gets_400_with_a_message(
    server: RunningServer,
) -> None:
    status, body = await asyncio.to_thread(http_get, server.http('/echo'))
    assert status == 400
    assert 'This URL is a websocket endpoint' in body


async def test_subprotocol_is_negotiated(server: RunningServer) -> None:
    async with connect(
        server.ws('/subprotocol'),
        subprotocols=['chat.v3', 'chat.v1'],  # type: ignore[list-item]
    ) as client:
        assert client.subprotocol == 'chat.v1'
        assert await client.recv() == 'chat.v1'
    async with connect(server.ws('/subprotocol')) as client:
        assert client.subprotocol is None
        assert await client.recv() == 'none'


async def test_malformed_handshake_gets_400(server: RunningServer) -> None:
    reader, writer = await asyncio.open_connection('127.0.0.1', server.port)
    writer.write(
        (
            f'GET /echo HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n'
            f'Upgrade: websocket\r\nConnection: Upgrade\r\n'
            f'Sec-WebSocket-Version: 13\r\n\r\n'  # no Sec-WebSocket-Key
        ).encode()
    )
    async with asyncio.timeout(10):
        head = await reader.readuntil(b'\r\n\r\n')
        status = int(head.split()[1])
        length = next(
            int(line.split(b':')[1])
            for line in head.split(b'\r\n')
            if line.lower().startswith(b'content-length:')
        )
        body = await reader.readexactly(length)
    writer.close()
    assert status == 400
    if server.kind == 'aiohttp':  # an ASGI server checks the handshake itself
        assert b"invalid Sec-WebSocket-Key ''" in body


async def test_a_handshake_to_a_path_that_is_not_utf8_gets_400(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        status, body = await rejection(server.ws('/echo%ff'))
    assert status == 400
    assert 'not UTF-8 once percent-decoded' in body
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    async with connect(server.ws('/echo')) as client:  # the server goes on
        await client.send('still here')
        assert await client.recv() == 'still here'


@pytest.mark.timeout(30)
async def test_a_client_that_vanishes_while_pongs_wait_ends_recv_quietly(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Pings the client never reads the pongs of, then a reset: recv() says closed.

    Under aiotao's worker the pongs back up until aiohttp's ``receive()``
    waits to send one; the reset then fails that wait with
    ``ConnectionError``, which must reach the view as a closed connection,
    not as an exception (logged with a traceback, and a 1011).
    """
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    # a small window: the pongs back up on the server after a few
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await loop.sock_connect(sock, ('127.0.0.1', server.port))
    key = base64.b64encode(os.urandom(16)).decode()
    await loop.sock_sendall(
        sock,
        f'GET /sized HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n'
        'Upgrade: websocket\r\nConnection: Upgrade\r\n'
        f'Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n'.encode(),
    )
    head = b''
    while b'\r\n\r\n' not in head:
        head += await loop.sock_recv(sock, 1)
    assert head.startswith(b'HTTP/1.1 101'), head
    mask = os.urandom(4)
    ping = (
        bytes([0x89, 0x80 | 125])
        + mask
        + bytes(b ^ mask[i % 4] for i, b in enumerate(b'p' * 125))
    )
    with caplog.at_level(logging.INFO):
        deadline = loop.time() + 2
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2):
                while loop.time() < deadline:
                    await loop.sock_sendall(sock, ping * 16)
        # a reset, not a close: the server's pending pong fails
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        sock.close()
        seen = await asyncio.wait_for(server.registry['observed'].get(), 10)
        await asyncio.sleep(0.2)  # anything the server would log after the view
    # 1006, no close frame; uvicorn says 1005 for any connection lost after
    # the handshake (connection_lost in its websocket protocols)
    assert seen['close_code'] == (1005 if server.kind == 'asgi' else 1006)
    assert [r for r in caplog.records if r.levelno > logging.INFO] == []


#: Why aiotao's worker lets an unmasked client frame through, for the xfail.
AIOHTTP_ACCEPTS_UNMASKED = (
    "upstream: aiohttp's frame reader (aiohttp/_websocket/reader_py.py, "
    'compiled to reader_c) reads the mask bit but never requires it of a '
    "client, by design (aiohttp's THREAT_MODEL.md, section 5.3, threat 3.1: "
    '"production default stays lenient for interop"); aiotao would have to '
    'parse frames itself, or swap in the pure-Python reader through private '
    'attributes at three times the parsing cost'
)


@pytest.mark.timeout(10)
async def test_an_unmasked_client_frame_closes_with_1002(
    server: RunningServer, request: pytest.FixtureRequest
) -> None:
    # RFC 6455 section 5.1: "The server MUST close the connection upon
    # receiving a frame that is not masked", with 1002 (section 7.4.1)
    if server.kind == 'aiohttp':
        request.applymarker(
            pytest.mark.xfail(strict=True, reason=AIOHTTP_ACCEPTS_UNMASKED)
        )
    reader, writer = await asyncio.open_connection('127.0.0.1', server.port)
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f'GET /echo HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n'
            'Upgrade: websocket\r\nConnection: Upgrade\r\n'
            f'Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n'.encode()
        )
        assert (await reader.readuntil(b'\r\n\r\n')).startswith(b'HTTP/1.1 101')
        writer.write(bytes([0x81, 0x02]) + b'hi')  # FIN, text, no mask bit
        head = await asyncio.wait_for(reader.readexactly(4), 3)
        assert head[0] == 0x88, f'not a close frame: {head!r}'  # no echo
        assert struct.unpack('!H', head[2:4])[0] == 1002
    finally:
        writer.close()
        await writer.wait_closed()
