"""IniServers on the test's loop: each kind starts, answers, stops, frees its port."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

from aiotao.sidecars import IniServers, ServerStartError, parse_section
from tests.harness.gunicorn import free_port


def registry(**settings: str) -> Any:
    config = Configurator(settings=settings)
    return config.registry


class Udp(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.replies: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.replies.put_nowait(data)


async def udp_ask(port: int, data: bytes) -> bytes:
    loop = asyncio.get_running_loop()
    transport, client = await loop.create_datagram_endpoint(
        Udp, remote_addr=('127.0.0.1', port)
    )
    try:
        transport.sendto(data)
        async with asyncio.timeout(5):
            return await client.replies.get()
    finally:
        transport.close()


def port_is_free(port: int, kind: int = socket.SOCK_STREAM) -> bool:
    """Whether a server could listen on ``port`` again (as servers do, with
    SO_REUSEADDR: the connections just closed wait in TIME_WAIT)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(('127.0.0.1', port))
        except OSError:
            return False
        return True


async def test_tcp_protocol_gets_registry_and_stops() -> None:
    port = free_port()
    servers = IniServers(
        [
            parse_section(
                'shout',
                {
                    'kind': 'tcp',
                    'port': str(port),
                    'protocol': 'tests.sidecars.protocols:Shout',
                },
            )
        ]
    )
    await servers.start(registry(greeting='hi '))
    reader, writer = await asyncio.open_connection('127.0.0.1', port)
    writer.write(b'hello')
    async with asyncio.timeout(5):
        assert await reader.readexactly(8) == b'hi HELLO'
        # stopping closes the open connection, then the port is free
        await servers.wait_closed(5)
        assert await reader.read() == b''
    writer.close()
    assert port_is_free(port)


async def test_udp_protocol_gets_section_and_options() -> None:
    port = free_port()
    servers = IniServers(
        [
            parse_section(
                'who',
                {
                    'kind': 'udp',
                    'port': str(port),
                    'protocol': 'tests.sidecars.protocols:Describe',
                    'option.colour': 'green',
                },
            )
        ]
    )
    await servers.start(registry(greeting='hello'))
    try:
        reply = json.loads(await udp_ask(port, b'ping'))
    finally:
        await servers.wait_closed(5)
    assert reply == {
        'section': 'who',
        'colour': 'green',
        'greeting': 'hello',
        'got': 'ping',
    }
    assert port_is_free(port, socket.SOCK_DGRAM)


async def test_port_taken_is_an_error_naming_the_section() -> None:
    with socket.socket() as taken:
        taken.bind(('127.0.0.1', 0))
        taken.listen()
        port = taken.getsockname()[1]
        first = free_port()
        servers = IniServers(
            [
                parse_section(
                    'ok',
                    {
                        'kind': 'tcp',
                        'port': str(first),
                        'protocol': 'tests.sidecars.protocols:Shout',
                    },
                ),
                parse_section(
                    'busy',
                    {
                        'kind': 'tcp',
                        'port': str(port),
                        'protocol': 'tests.sidecars.protocols:Shout',
                    },
                ),
            ]
        )
        with pytest.raises(ServerStartError) as error:
            await servers.start(None)
    message = str(error.value)
    assert message.startswith('[aiotao.server:busy]: cannot listen on 127.0.0.1:')
    assert 'address already in use' in message.lower()
    # the server started before the failure was closed again
    await asyncio.sleep(0)
    assert port_is_free(first)


async def test_factory_must_return_a_server() -> None:
    servers = IniServers(
        [
            parse_section(
                'odd',
                {
                    'kind': 'tcp',
                    'port': '7',
                    'factory': 'tests.sidecars.protocols:not_a_server',
                },
            )
        ]
    )
    with pytest.raises(ServerStartError) as error:
        await servers.start(None)
    assert '[aiotao.server:odd]: the factory returned <object' in str(error.value)
    assert 'has no close()' in str(error.value)


async def test_factory_configuration_errors_pass_through() -> None:
    servers = IniServers(
        [
            parse_section(
                'admin',
                {
                    'kind': 'tcp',
                    'host': '0.0.0.0',
                    'port': '7',
                    'factory': 'aiotao_demo.console:start_console',
                },
            )
        ]
    )
    with pytest.raises(ConfigurationError) as error:
        await servers.start(None)
    assert 'host = 0.0.0.0: the admin console has no password' in str(error.value)


async def test_handlers_in_flight_finish_then_the_rest_are_dropped() -> None:
    port = free_port()
    servers = IniServers(
        [
            parse_section(
                'slow',
                {
                    'kind': 'tcp',
                    'port': str(port),
                    'factory': 'tests.sidecars.protocols:slow_lines',
                    'option.delay': '0.3',
                },
            )
        ]
    )
    await servers.start(None)
    reader, writer = await asyncio.open_connection('127.0.0.1', port)
    writer.write(b'one\n')
    await asyncio.sleep(0.1)  # the handler is busy with "one"
    started = asyncio.get_running_loop().time()
    servers.close()
    # new connections are refused at once
    with pytest.raises(OSError):
        await asyncio.open_connection('127.0.0.1', port)
    await servers.wait_closed(5)
    waited = asyncio.get_running_loop().time() - started
    async with asyncio.timeout(5):
        # the command in flight was answered, then the handler saw its input end
        assert await reader.read() == b'done one\nend of input\n'
    assert waited < 2
    writer.close()


async def test_a_handler_that_never_ends_is_dropped_at_the_deadline() -> None:
    port = free_port()
    servers = IniServers(
        [
            parse_section(
                'stuck',
                {
                    'kind': 'tcp',
                    'port': str(port),
                    'factory': 'tests.sidecars.protocols:slow_lines',
                    'option.delay': '60',
                },
            )
        ]
    )
    await servers.start(None)
    reader, writer = await asyncio.open_connection('127.0.0.1', port)
    writer.write(b'forever\n')
    await asyncio.sleep(0.1)
    started = asyncio.get_running_loop().time()
    await servers.wait_closed(0.5)
    assert asyncio.get_running_loop().time() - started < 2
    async with asyncio.timeout(5):
        assert await reader.read() == b''  # dropped, nothing answered
    writer.close()
    assert port_is_free(port)
