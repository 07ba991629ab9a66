"""aiohttp's transport tells when a send may wait for the client.

``WebsocketConnection`` bounds such sends with ``send_timeout`` (the slow
client tests in ``test_limits.py`` show it still drops a client that stops
reading); sends the socket takes at once are spared that timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from aiotao.serving.gunicorn.transport import AiohttpWebsocketTransport
from aiotao.websocket.exceptions import ConnectionClosed
from aiotao.websocket.limits import Limits

Seen = dict[str, Any]


@contextlib.asynccontextmanager
async def served(
    handler: Callable[[web.BaseRequest], Awaitable[web.StreamResponse]],
) -> AsyncIterator[str]:
    """``handler`` on aiohttp's low-level server on loopback: its ws:// URL."""
    server = web.Server(handler)
    loop = asyncio.get_running_loop()
    listener = await loop.create_server(server, '127.0.0.1', 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        yield f'ws://127.0.0.1:{port}/'
    finally:
        listener.close()
        await server.shutdown(1)


@pytest.fixture
async def answers() -> AsyncIterator[tuple[str, asyncio.Queue[Seen]]]:
    """A websocket server whose handler reports what ``send_may_wait`` says."""
    seen: asyncio.Queue[Seen] = asyncio.Queue()

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        transport = AiohttpWebsocketTransport(request)
        await transport.accept()
        high_water = request.transport.get_write_buffer_limits()[1]  # type: ignore[union-attr]
        report: Seen = {
            'small text': transport.send_may_wait('hello'),
            'small bytes': transport.send_may_wait(b'hello'),
            # UTF-8 may take 4 bytes a character: this may not fit
            'text over a quarter of the mark': transport.send_may_wait(
                'x' * (high_water // 4 + 1)
            ),
            'bytes over the mark': transport.send_may_wait(b'x' * (high_water + 1)),
        }
        # the client stops reading: the buffer fills up, sends would wait
        # (the send that fills it waits: aiohttp drains at once)
        with contextlib.suppress(TimeoutError):
            while not request.protocol.writing_paused:
                await asyncio.wait_for(transport.send(b'x' * 65536), 0.5)
        report['once paused'] = transport.send_may_wait(b'x')
        await seen.put(report)
        transport.abort()
        return transport.response

    async with served(handler) as url:
        yield url, seen


@pytest.mark.timeout(20)
async def test_only_sends_that_may_wait_say_so(
    answers: tuple[str, asyncio.Queue[Seen]],
) -> None:
    url, seen = answers
    async with aiohttp.ClientSession() as session:
        # a client that never reads after the handshake
        async with session.ws_connect(url, max_msg_size=0) as ws:
            report = await asyncio.wait_for(seen.get(), 10)
            await ws.close()
    assert report == {
        'small text': False,
        'small bytes': False,
        'text over a quarter of the mark': True,
        'bytes over the mark': True,
        'once paused': True,
    }


@pytest.mark.timeout(20)
async def test_a_closed_connection_is_not_kept_until_the_abort_timer() -> None:
    # After a clean close a timer aborts the socket in case the client
    # never reads; it must hold the socket, not the connection (with its
    # compressor): under churn the closed connections otherwise piled up.
    import gc
    import weakref

    closed: asyncio.Queue[weakref.ref[Any]] = asyncio.Queue()

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        transport = AiohttpWebsocketTransport(request)
        await transport.accept(limits=Limits(close_timeout=30))
        await transport.close(1000, 'bye')
        await closed.put(weakref.ref(transport))
        return transport.response

    async with served(handler) as url, aiohttp.ClientSession() as session:
        async with session.ws_connect(url) as ws:
            await ws.receive()  # the close frame
        gone = await closed.get()
        for _ in range(50):
            gc.collect()
            if gone() is None:
                break
            await asyncio.sleep(0.02)
        assert gone() is None, 'the closed connection is still referenced'


@pytest.fixture
async def pinging_echo() -> AsyncIterator[str]:
    """An echo over the transport that pings every 0.2 s, wants pongs in 0.3 s."""

    limits = Limits(ping_interval=0.2, ping_timeout=0.3)

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        transport = AiohttpWebsocketTransport(request)
        await transport.accept(limits=limits)
        while (message := await transport.receive()) is not None:
            await transport.send(message)
        return transport.response

    async with served(handler) as url:
        yield url


@pytest.mark.timeout(20)
async def test_a_quiet_client_that_answers_pings_stays_connected(
    pinging_echo: str,
) -> None:
    # The heartbeat reads a flag instead of rescheduling per message
    # (aiohttp's way): a pong must still count, through many intervals.
    from websockets.asyncio.client import connect
    from websockets.frames import Frame, Opcode

    pings = 0
    async with connect(pinging_echo, ping_interval=None) as client:
        receive_frame = client.protocol.recv_frame

        def counting_pings(frame: Frame) -> None:
            nonlocal pings
            pings += frame.opcode is Opcode.PING
            receive_frame(frame)  # answers a ping with a pong

        client.protocol.recv_frame = counting_pings  # type: ignore[method-assign]
        await asyncio.sleep(1.5)  # 7 intervals, 5 pong timeouts
        await client.send('still here')
        assert await asyncio.wait_for(client.recv(), 5) == 'still here'
    # pinged after one to two intervals of silence (a pong is not silence)
    assert 3 <= pings <= 8


@pytest.mark.timeout(20)
async def test_a_talking_client_is_not_pinged(pinging_echo: str) -> None:
    # Anything the client sends shows it is there: no ping while it talks
    # (and no pong is needed), as with aiohttp's own heartbeat.
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(pinging_echo, autoping=False) as ws:
            loop = asyncio.get_running_loop()
            stop = loop.time() + 1.2
            while loop.time() < stop:
                await ws.send_str('tick')
                reply = await ws.receive(timeout=5)
                # a PING here would arrive before the echo
                assert (reply.type, reply.data) == (aiohttp.WSMsgType.TEXT, 'tick')
                await asyncio.sleep(0.05)
            await ws.close()


def test_the_heartbeat_hooks_exist_in_this_aiohttp() -> None:
    # Without them (a newer aiohttp renamed them) aiohttp's own heartbeat
    # runs: correct, but it schedules a callback per message received.
    from aiotao.serving.gunicorn import transport

    assert transport._Response is transport._QuietHeartbeatResponse


@pytest.mark.timeout(20)
@pytest.mark.parametrize('who_closes', ['client', 'server'])
async def test_a_finished_websocket_is_freed_without_the_collector(
    who_closes: str,
) -> None:
    # aiohttp's protocol keeps the response's heartbeat callback: without
    # aiotao breaking that cycle, each closed websocket (request, buffers,
    # deflate state) waits for the collector, which a worker runs seldom.
    responses: asyncio.Queue[weakref.ref[Any]] = asyncio.Queue()

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        transport = AiohttpWebsocketTransport(request)
        await transport.accept(limits=Limits(ping_interval=20))
        if who_closes == 'server':
            await transport.close(1000, 'bye')
        else:
            while await transport.receive() is not None:
                pass
        await responses.put(weakref.ref(transport.response))
        return transport.response

    gc.disable()
    try:
        async with served(handler) as url, aiohttp.ClientSession() as session:
            async with session.ws_connect(url) as ws:
                if who_closes == 'client':
                    await ws.close()
                else:
                    await ws.receive()  # the close frame
            response = await responses.get()
            for _ in range(50):  # the socket closes, aiohttp lets go
                if response() is None:
                    break
                await asyncio.sleep(0.02)
            assert response() is None, 'a reference cycle keeps the response'
    finally:
        gc.enable()


@pytest.mark.timeout(20)
@pytest.mark.parametrize('write_buffer', [16 * 1024, 64 * 1024])
async def test_a_client_that_stops_reading_costs_at_most_the_write_buffer(
    write_buffer: int,
) -> None:
    # aiohttp would write 256 KiB (its writer_limit) before it even looks
    # whether the socket's buffer is full: the setting bounds both
    message = b'x' * 65536
    seen: asyncio.Queue[int] = asyncio.Queue()

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        transport = AiohttpWebsocketTransport(request)
        await transport.accept(limits=Limits(write_buffer=write_buffer))
        socket = request.transport
        assert socket is not None
        most = 0
        with contextlib.suppress(TimeoutError):
            while True:  # until a send waits for the client
                await asyncio.wait_for(transport.send(message), 0.5)
                most = max(most, socket.get_write_buffer_size())
        await seen.put(most)
        transport.abort()
        return transport.response

    async with served(handler) as url, aiohttp.ClientSession() as session:
        async with session.ws_connect(url, max_msg_size=0) as ws:
            # the client reads nothing: its window and the kernel's fill up
            most = await asyncio.wait_for(seen.get(), 15)
            await ws.close()
    # the buffer, and the frame that took it over the mark
    assert most <= write_buffer + len(message) + 16


@pytest.fixture
async def sending_now() -> AsyncIterator[tuple[str, asyncio.Queue[Seen]]]:
    """A server that sends with ``send_now`` and ``send`` in turn, and reports."""
    seen: asyncio.Queue[Seen] = asyncio.Queue()

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        transport = AiohttpWebsocketTransport(request)
        await transport.accept()
        report: Seen = {'written': []}
        for message in ['hello', b'\x00\x01', 'é' * 100, b'y' * 70_000, 'last']:
            if transport.send_now(message):
                report['written'].append(message)
            else:
                await transport.send(message)  # what a connection does then
        await transport.send('sent')
        await transport.close()
        with contextlib.suppress(ConnectionClosed):
            transport.send_now('after close')
            report['after close'] = 'written'
        await seen.put(report)
        return transport.response

    async with served(handler) as url:
        yield url, seen


@pytest.mark.timeout(20)
async def test_send_now_writes_the_frames_send_would(
    sending_now: tuple[str, asyncio.Queue[Seen]],
) -> None:
    url, seen = sending_now
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url) as ws:
            received = [message.data async for message in ws]
    report = await asyncio.wait_for(seen.get(), 10)
    # every message arrives as itself, text as text, in order
    assert received == ['hello', b'\x00\x01', 'é' * 100, b'y' * 70_000, 'last', 'sent']
    # written at once, except the frame bigger than the buffer's low-water
    # mark: send() takes it, and it may wait
    assert report['written'] == ['hello', b'\x00\x01', 'é' * 100, 'last']
    # a closed connection raises, as send() does
    assert 'after close' not in report


@pytest.mark.timeout(20)
async def test_send_now_declines_with_permessage_deflate(
    sending_now: tuple[str, asyncio.Queue[Seen]],
) -> None:
    # each connection compresses with its own state: no bytes to share
    url, seen = sending_now
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url, compress=15) as ws:
            assert ws.compress == 15
            received = [message.data async for message in ws]
    report = await asyncio.wait_for(seen.get(), 10)
    assert received == ['hello', b'\x00\x01', 'é' * 100, b'y' * 70_000, 'last', 'sent']
    assert report['written'] == []


@pytest.mark.timeout(20)
async def test_send_now_declines_once_the_buffer_is_full() -> None:
    seen: asyncio.Queue[Seen] = asyncio.Queue()

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        transport = AiohttpWebsocketTransport(request)
        await transport.accept()
        socket = request.transport
        assert socket is not None
        written = 0
        # the client reads nothing: its window and the kernel's fill up
        while transport.send_now(b'x' * 1000):
            written += 1
            await asyncio.sleep(0)  # the loop tries the socket again
        await seen.put({'written': written, 'buffered': socket.get_write_buffer_size()})
        transport.abort()
        return transport.response

    async with served(handler) as url, aiohttp.ClientSession() as session:
        async with session.ws_connect(url, max_msg_size=0) as ws:
            report = await asyncio.wait_for(seen.get(), 15)
            await ws.close()
    assert report['written'] > 0
    # never over the low-water mark: what send() writes without waiting
    assert report['buffered'] <= Limits().write_buffer // 4
