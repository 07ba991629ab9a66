"""The connection API views use, under real servers (aiohttp and ASGI)."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed as ClientConnectionClosed

from aiotao.websocket import ConnectionClosed, State
from tests.websocket.servers import RunningServer


async def observed(server: RunningServer) -> dict[str, Any]:
    """What the view saw, once it put it in the registry."""
    async with asyncio.timeout(10):
        seen: dict[str, Any] = await server.registry['observed'].get()
    return seen


async def test_recv_returns_none_once_the_client_closed(server: RunningServer) -> None:
    async with connect(server.ws('/after-close')) as client:
        await client.send('one')
        await client.send(b'two')
        await client.close(4321, 'see you')
    seen = await observed(server)
    assert seen['received'] == ['one', b'two']
    assert seen['again'] == [None, None]
    assert seen['state'] is State.CLOSED
    assert (seen['close_code'], seen['close_reason']) == (4321, 'see you')


async def test_close_is_idempotent_and_send_after_close_raises(
    server: RunningServer,
) -> None:
    async with connect(server.ws('/close-twice')) as client:
        assert await client.recv() == 'closing'
        with pytest.raises(ClientConnectionClosed):
            await client.recv()
    # the first close decides the code; the second one waited for it
    assert (client.close_code, client.close_reason) == (4000, 'done here')
    seen = await observed(server)
    assert seen['state'] is State.CLOSED
    assert seen['code'] == 4000
    assert isinstance(seen['error'], ConnectionClosed)
    assert seen['error'].code == 4000


async def test_second_concurrent_recv_is_an_error_naming_the_problem(
    server: RunningServer,
) -> None:
    async with connect(server.ws('/two-readers')) as client:
        error = await client.recv()
        assert isinstance(error, str)
        assert error.startswith('error: recv() is already waiting')
        assert 'one task' in error
        await client.send('hello')
        # the first reader still works: no message was lost or stolen
        assert await client.recv() == 'first reader got: hello'


async def test_json_round_trip_and_bad_json_is_a_clear_error(
    server: RunningServer,
) -> None:
    async with connect(server.ws('/json')) as client:
        await client.send(json.dumps({'a': [1, 2]}))
        assert json.loads(await client.recv()) == {'got': {'a': [1, 2]}}
        await client.send('{"a": ')
        error = json.loads(await client.recv())['error']
        assert error.startswith('received a message that is not valid JSON')
        # the connection is still fine after a bad message
        await client.send('3')
        assert json.loads(await client.recv()) == {'got': 3}


async def test_uncaught_bad_json_closes_with_1007_not_an_error_log(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with connect(server.ws('/json-unchecked')) as client:
        await client.send('not json')
        with pytest.raises(ClientConnectionClosed):
            await client.recv()
    assert client.close_code == 1007
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_view_exception_closes_with_1011_and_is_logged(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with connect(server.ws('/fail')) as client:
        await client.send('go')
        with pytest.raises(ClientConnectionClosed):
            await client.recv()
    assert client.close_code == 1011
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(failures) == 1
    assert 'closing the connection with 1011' in failures[0].getMessage()
    assert failures[0].exc_info is not None
    assert str(failures[0].exc_info[1]) == 'the view broke'
    # the server goes on serving
    async with connect(server.ws('/echo')) as client:
        await client.send('still here')
        assert await client.recv() == 'still here'


async def test_view_return_closes_normally(server: RunningServer) -> None:
    async with connect(server.ws('/rooms/green')) as client:
        assert await client.recv() == 'DefaultRootFactory green'
        with pytest.raises(ClientConnectionClosed):
            await client.recv()
    assert client.close_code == 1000
