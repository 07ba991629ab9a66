"""Limits: message size, slow clients, pings, and their settings."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
from typing import Any

import pytest
from pyramid.exceptions import ConfigurationError
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed as ClientConnectionClosed

from aiotao.websocket.limits import DEFAULT_LIMITS, Limits, limits_from_settings
from tests.websocket.app import make_app
from tests.websocket.conftest import StartServer
from tests.websocket.servers import RunningServer


async def observed(server: RunningServer, timeout: float = 10) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        seen: dict[str, Any] = await server.registry['observed'].get()
    return seen


@pytest.mark.parametrize('compression', ['deflate', None])
async def test_message_over_the_limit_closes_with_1009(
    start: StartServer, compression: str | None
) -> None:
    server = await start(**{'aiotao.websocket.max_message_size': '1000'})
    async with connect(server.ws('/sized'), compression=compression) as client:
        # the limit is inclusive, for bytes and for UTF-8 text alike
        await client.send(b'x' * 1000)
        assert await client.recv() == '1000'
        await client.send('é' * 500)
        assert await client.recv() == '500'
        await client.send('é' * 501)  # 1002 bytes
        with pytest.raises(ClientConnectionClosed):
            await client.recv()
    assert client.close_code == 1009
    seen = await observed(server)
    assert seen['close_code'] == 1009
    # the server goes on serving
    async with connect(server.ws('/echo')) as client:
        await client.send('next')
        assert await client.recv() == 'next'


async def test_default_limit_is_one_mebibyte(server: RunningServer) -> None:
    async with connect(server.ws('/sized'), max_size=None) as client:
        await client.send(b'x' * 1024 * 1024)
        assert await client.recv() == str(1024 * 1024)
        await client.send(b'x' * (1024 * 1024 + 1))
        with pytest.raises(ClientConnectionClosed):
            await client.recv()
    assert client.close_code == 1009


async def connect_slow_client(server: RunningServer, path: str) -> Any:
    """A client that reads nothing: tiny socket buffer, a queue of one message."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ('127.0.0.1', server.port))
    return connect(
        server.ws(path),
        sock=sock,
        max_queue=1,
        compression=None,
        ping_interval=None,
        max_size=None,
        close_timeout=1,  # it will not read the server's close frame either
    )


async def test_slow_client_is_dropped_and_memory_stays_bounded(
    start: StartServer,
) -> None:
    # send_timeout is 1 s in the test app
    server = await start(**{'aiotao.websocket.max_queue': '4'})
    async with await connect_slow_client(server, '/flood') as client:
        # The view tries to send 1 GiB; a send waits at most send_timeout.
        seen = await observed(server)
        assert seen['code'] == 1008
        assert seen['close_code'] == 1008
        assert 'too slow' in seen['reason']
        assert seen['seconds'] < 5
        # what left the view is what the sockets hold: a few MiB, not 1 GiB
        assert seen['sent'] < 16
        # the client, reading at last, finds the connection closed
        async with asyncio.timeout(20):
            with pytest.raises(ClientConnectionClosed):
                while True:
                    await client.recv()
    # the close frame waited behind the data the client had not read
    assert client.close_code == 1008
    # the server goes on serving
    async with connect(server.ws('/echo')) as client:
        await client.send('next')
        assert await client.recv() == 'next'


# aiotao's worker pings on the aiotao.websocket.* settings; ASGI servers ping
# on their own (uvicorn --ws-ping-interval/--ws-ping-timeout), so this test
# is for the aiohttp server only.
@pytest.mark.parametrize('server_kind', ['aiohttp'])
async def test_client_that_does_not_answer_pings_is_dropped(
    start: StartServer, server_kind: str
) -> None:
    server = await start(
        **{
            'aiotao.websocket.ping_interval': '0.2',
            'aiotao.websocket.ping_timeout': '0.3',
        }
    )
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
    seen = await observed(server)
    waited = asyncio.get_running_loop().time() - started
    assert seen['close_code'] == 1006
    assert 0.4 < waited < 3
    writer.close()


def test_settings_give_limits() -> None:
    limits = limits_from_settings(
        {
            'aiotao.websocket.max_message_size': '2048',
            'aiotao.websocket.ping_interval': '0',
            'aiotao.websocket.ping_timeout': '5.5',
            'aiotao.websocket.max_queue': '100',
            'aiotao.websocket.send_timeout': '3',
            'aiotao.websocket.close_timeout': '4',
            'aiotao.websocket.write_buffer': '16384',
        }
    )
    assert limits == Limits(
        max_message_size=2048,
        ping_interval=None,
        ping_timeout=5.5,
        max_queue=100,
        send_timeout=3.0,
        close_timeout=4.0,
        write_buffer=16384,
    )
    assert limits_from_settings({}) == DEFAULT_LIMITS
    assert DEFAULT_LIMITS.max_message_size == 1024 * 1024


@pytest.mark.parametrize(
    ('name', 'value'),
    [
        ('max_message_size', '0'),
        ('max_message_size', '1.5'),
        ('max_queue', 'many'),
        ('send_timeout', '-1'),
        ('close_timeout', 'inf'),
        ('ping_interval', 'often'),
        ('write_buffer', '1000'),
        ('write_buffer', '64K'),
    ],
)
def test_bad_setting_is_a_configuration_error_naming_it(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as error:
        make_app(**{f'aiotao.websocket.{name}': value})
    assert f'aiotao.websocket.{name} = {value!r}: expected' in str(error.value)
