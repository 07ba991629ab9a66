"""The connection's rules, on a dummy transport: state, queue, close, readers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from pyramid.registry import Registry
from pyramid.request import Request

from aiotao.websocket import State, WebsocketConnection
from aiotao.websocket.connection import SLOW_CLIENT
from aiotao.websocket.exceptions import (
    ConnectionClosed,
    InvalidJSON,
    InvalidState,
)
from aiotao.websocket.limits import Limits
from tests.websocket.dummies import DummyTransport


def make_request() -> Request:
    request = Request.blank('/ws')
    request.registry = Registry('test')
    request.registry.settings = {}
    return request


@pytest.fixture
async def transport() -> DummyTransport:
    return DummyTransport()


@pytest.fixture
async def ws(transport: DummyTransport) -> AsyncIterator[WebsocketConnection]:
    ws = WebsocketConnection(
        transport, make_request(), Limits(max_queue=3, send_timeout=0.2)
    )
    await ws.accept()
    yield ws
    transport.closable.set()
    transport.writable.set()
    await ws.close()


async def test_states_from_connecting_to_closed(transport: DummyTransport) -> None:
    ws = WebsocketConnection(transport, make_request())
    assert ws.state is State.CONNECTING
    with pytest.raises(InvalidState, match='before the websocket handshake'):
        await ws.recv()
    with pytest.raises(InvalidState, match='before the websocket handshake'):
        await ws.send('early')
    await ws.accept('chat')
    assert (ws.state, ws.subprotocol, transport.subprotocol) == (
        State.OPEN,
        'chat',
        'chat',
    )
    await ws.close(4000, 'bye')
    assert ws.state is State.CLOSED
    assert (ws.close_code, ws.close_reason) == (4000, 'bye')
    with pytest.raises(InvalidState):
        await ws.accept()


async def test_close_twice_closes_once(
    ws: WebsocketConnection, transport: DummyTransport
) -> None:
    await asyncio.gather(ws.close(4000, 'first'), ws.close(4001, 'second'))
    await ws.close()
    assert transport.closes == [(4000, 'first')]
    assert (ws.close_code, ws.close_reason) == (4000, 'first')


@pytest.mark.parametrize('code', [999, 1005, 1006, 1015, 2999, 5000])
async def test_close_codes_that_cannot_be_sent_are_refused(
    ws: WebsocketConnection, code: int
) -> None:
    with pytest.raises(ValueError, match='not a close code'):
        await ws.close(code)
    assert ws.state is State.OPEN


async def test_long_close_reason_is_cut_to_fit_the_frame(
    ws: WebsocketConnection, transport: DummyTransport
) -> None:
    await ws.close(1000, 'é' * 100)
    ((_, reason),) = transport.closes
    assert len(reason.encode()) <= 123
    assert reason == 'é' * 61


async def test_recv_returns_messages_then_none_once_the_client_closed(
    ws: WebsocketConnection, transport: DummyTransport
) -> None:
    transport.feed('a')
    transport.feed(b'b')
    transport.feed(None)
    assert [message async for message in ws] == ['a', b'b']
    assert await ws.recv() is None
    assert ws.state is State.CLOSED
    assert (ws.close_code, ws.close_reason) == (1000, 'client closed')
    with pytest.raises(ConnectionClosed) as closed:
        await ws.send('late')
    assert closed.value.code == 1000


async def test_recv_json_on_a_closed_connection_raises(
    ws: WebsocketConnection, transport: DummyTransport
) -> None:
    transport.feed('{"a": 1}')
    transport.feed(b'\xff')
    transport.feed(None)
    assert await ws.recv_json() == {'a': 1}
    with pytest.raises(InvalidJSON):
        await ws.recv_json()  # not UTF-8, so not JSON
    with pytest.raises(ConnectionClosed):
        await ws.recv_json()  # None would read as JSON null


async def test_a_reader_waiting_when_the_server_closes_gets_none(
    ws: WebsocketConnection, transport: DummyTransport
) -> None:
    # this transport does not wake its reader on close, as an ASGI server
    # whose close is stuck behind a client that does not read
    reader = asyncio.create_task(ws.recv())
    await asyncio.sleep(0)
    await ws.close(1001, 'going away')
    assert await reader is None


async def test_recv_is_safe_to_cancel(
    ws: WebsocketConnection, transport: DummyTransport
) -> None:
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await ws.recv()
    transport.feed('kept')
    assert await ws.recv() == 'kept'
    # a cancellation that is not the connection's own is not turned into None
    reader = asyncio.create_task(ws.recv())
    await asyncio.sleep(0)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    assert ws.state is State.OPEN


async def test_send_rejects_what_is_not_text_or_bytes(ws: WebsocketConnection) -> None:
    with pytest.raises(TypeError, match='use send_json'):
        await ws.send({'a': 1})  # type: ignore[arg-type]
    await ws.send(bytearray(b'ok'))


async def test_messages_queue_in_order_behind_a_slow_write(
    ws: WebsocketConnection, transport: DummyTransport
) -> None:
    transport.writable.clear()
    senders = [asyncio.create_task(ws.send(str(i))) for i in range(3)]
    await asyncio.sleep(0.01)
    assert ws.send_nowait('from a broadcast')
    transport.writable.set()
    await asyncio.gather(*senders)
    await asyncio.sleep(0.01)
    assert transport.sent == ['0', '1', '2', 'from a broadcast']


async def test_full_queue_drops_the_client_with_1008(
    ws: WebsocketConnection, transport: DummyTransport
) -> None:
    transport.writable.clear()
    sender = asyncio.create_task(ws.send('stuck'))  # in the socket's hands
    await asyncio.sleep(0)
    assert [ws.send_nowait(str(i)) for i in range(4)] == [True, True, True, False]
    assert ws.state is not State.OPEN
    assert ws.close_code == SLOW_CLIENT
    assert 'over 3 messages waiting' in ws.close_reason
    assert not ws.send_nowait('skipped: closed')
    with pytest.raises(ConnectionClosed) as closed:
        await sender
    assert closed.value.code == SLOW_CLIENT
    with pytest.raises(ConnectionClosed):
        await ws.send('after')


async def test_send_nowait_writes_at_once_when_nothing_waits() -> None:
    transport = DummyTransport(writes_now=True)
    ws = WebsocketConnection(transport, make_request(), Limits(max_queue=3))
    await ws.accept()
    # written before any other task runs: a broadcast's first members have
    # it while the others are still being reached
    assert ws.send_nowait('first')
    assert transport.sent == ['first']
    # once the socket is full, messages queue, and later ones keep their place
    transport.writable.clear()
    assert ws.send_nowait('queued')
    transport.writable.set()
    assert ws.send_nowait('behind it')
    assert transport.sent == ['first']
    await asyncio.sleep(0.01)
    assert transport.sent == ['first', 'queued', 'behind it']
    await ws.close()


async def test_send_nowait_skips_a_connection_found_gone() -> None:
    transport = DummyTransport(writes_now=True)
    ws = WebsocketConnection(transport, make_request())
    await ws.accept()
    transport.lose()
    assert not ws.send_nowait('lost')
    assert ws.state is not State.OPEN
    assert transport.sent == []
    assert not ws.send_nowait('after')


async def test_send_waits_at_most_send_timeout(
    ws: WebsocketConnection, transport: DummyTransport
) -> None:
    transport.writable.clear()
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(ConnectionClosed) as closed:
        await ws.send('never read')
    assert loop.time() - started < 1
    assert closed.value.code == SLOW_CLIENT
    assert 'waited over 0.2 s' in closed.value.reason


async def test_close_sends_queued_messages_first(
    ws: WebsocketConnection, transport: DummyTransport
) -> None:
    transport.writable.clear()
    for i in range(3):
        ws.send_nowait(str(i))
    closing = asyncio.create_task(ws.close())
    await asyncio.sleep(0.01)
    assert transport.closes == []
    transport.writable.set()
    await closing
    assert transport.sent == ['0', '1', '2']
    assert transport.closes == [(1000, '')]
