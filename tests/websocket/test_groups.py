"""Groups and broadcast: real servers for delivery, dummies for the rules."""

from __future__ import annotations

import asyncio
import json
from contextlib import AsyncExitStack
from typing import Any

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError
from pyramid.registry import Registry
from websockets.asyncio.client import ClientConnection, connect

from aiotao.websocket import broadcast, get_groups
from aiotao.websocket.groups import Groups, InMemoryBackend
from tests.websocket.conftest import StartServer
from tests.websocket.servers import RunningServer
from tests.websocket.test_limits import connect_slow_client
from tests.websocket.test_views import http_get


async def wait_for(condition: Any, timeout: float = 5) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def join_room(stack: AsyncExitStack, server: RunningServer) -> ClientConnection:
    client = await stack.enter_async_context(
        connect(server.ws('/room/lobby'), compression=None, max_size=None)
    )
    assert await client.recv() == 'joined'
    return client


async def read_all(client: ClientConnection, count: int) -> list[bytes]:
    return [await client.recv() for _ in range(count)]  # type: ignore[misc]


# 12.5 MiB either way: big messages, and small ones that sockets take at
# once until the slow client's buffer fills
@pytest.mark.parametrize('count, size', [(200, 64 * 1024), (3200, 4096)])
async def test_broadcast_reaches_fast_clients_despite_closed_and_slow_ones(
    start: StartServer, count: int, size: int
) -> None:
    server = await start(**{'aiotao.websocket.max_queue': '8'})
    groups = get_groups(server.registry)
    async with AsyncExitStack() as stack:
        fast = [await join_room(stack, server) for _ in range(3)]
        leaving = await join_room(stack, server)
        slow = await stack.enter_async_context(
            await connect_slow_client(server, '/room/lobby')
        )
        await wait_for(lambda: len(groups.members('lobby')) == 5)
        before = groups.members('lobby')
        await leaving.close()  # no waiting: it may still be a member below

        readers = [asyncio.create_task(read_all(client, count)) for client in fast]
        loop = asyncio.get_running_loop()
        slowest_call = 0.0
        for i in range(count):
            started = loop.time()
            await groups.broadcast('lobby', i.to_bytes(4, 'big') + b'x' * (size - 4))
            slowest_call = max(slowest_call, loop.time() - started)
        async with asyncio.timeout(10):
            received = await asyncio.gather(*readers)

        # 12.5 MiB went to each fast client, in order, promptly
        for messages in received:
            assert [int.from_bytes(m[:4], 'big') for m in messages] == list(
                range(count)
            )
        # broadcast never waited for the slow client (nor for anyone)
        assert slowest_call < 0.5
        # the slow one was dropped as too slow; the closed one left
        dropped = [c for c in before if c.close_code == 1008]  # type: ignore[attr-defined]
        assert len(dropped) == 1
        assert 'too slow' in dropped[0].close_reason  # type: ignore[attr-defined]
        await wait_for(lambda: len(groups.members('lobby')) == 3)
        assert slow.close_code is None or slow.close_code == 1008


async def test_a_broadcast_to_idle_clients_is_written_by_one_task(
    server: RunningServer,
) -> None:
    # A task per member per broadcast cost more than the writes themselves
    # (fan-out to 1,000 clients); members whose socket takes the message at
    # once are written in one shared task, in order.
    groups = get_groups(server.registry)
    async with AsyncExitStack() as stack:
        clients = [await join_room(stack, server) for _ in range(50)]
        await wait_for(lambda: len(groups.members('lobby')) == 50)
        loop = asyncio.get_running_loop()
        created = 0
        default_factory = loop.get_task_factory()

        def counting_factory(loop: Any, coro: Any, **kwargs: Any) -> Any:
            nonlocal created
            created += 1
            if default_factory is not None:
                return default_factory(loop, coro, **kwargs)
            return asyncio.Task(coro, loop=loop, **kwargs)

        loop.set_task_factory(counting_factory)
        try:
            for i in range(3):
                groups.deliver('lobby', f'message {i}')
            received = await asyncio.gather(
                *(read_all(client, 3) for client in clients)
            )
        finally:
            loop.set_task_factory(default_factory)
        assert all(
            messages == ['message 0', 'message 1', 'message 2'] for messages in received
        )
        if server.kind == 'aiohttp':
            # (the readers above are 50 tasks of the test's own)
            assert created - 50 <= 3, f'{created - 50} tasks for 3 broadcasts'


async def test_broadcasts_and_sends_reach_each_client_in_order(
    server: RunningServer,
) -> None:
    # Broadcasts to plain clients are written as one frame's bytes (the
    # aiohttp server); to compressed ones, one by one: both get every
    # message, text as text, in order with what send() sent in between.
    groups = get_groups(server.registry)
    async with AsyncExitStack() as stack:
        plain = [await join_room(stack, server) for _ in range(3)]
        compressed = []
        for _ in range(3):
            client = await stack.enter_async_context(
                connect(server.ws('/room/lobby'), compression='deflate')
            )
            assert await client.recv() == 'joined'
            compressed.append(client)
        await wait_for(lambda: len(groups.members('lobby')) == 6)
        members = list(groups.members('lobby'))
        expected: list[str | bytes] = []
        for i in range(20):
            sent = [f'text {i}', f'bytes {i}'.encode(), f'{i} ' + 'é' * 100]
            for message in sent:
                groups.deliver('lobby', message)
            for member in members:  # behind the broadcasts still queued
                await member.send(f'sent {i}')  # type: ignore[attr-defined]
            expected += [*sent, f'sent {i}']
        received = await asyncio.wait_for(
            asyncio.gather(
                *(read_all(client, len(expected)) for client in plain + compressed)
            ),
            10,
        )
        for messages in received:
            assert messages == expected


async def test_clients_broadcast_to_their_room(server: RunningServer) -> None:
    async with AsyncExitStack() as stack:
        alice, bob = [await join_room(stack, server) for _ in range(2)]
        await alice.send('hi from alice')
        assert await alice.recv() == 'hi from alice'
        assert await bob.recv() == 'hi from alice'


async def test_closing_leaves_every_group(server: RunningServer) -> None:
    groups = get_groups(server.registry)
    async with connect(server.ws('/room/lobby')) as client:
        assert await client.recv() == 'joined'
        (member,) = groups.members('lobby')
        assert member.groups == {'lobby'}  # type: ignore[attr-defined]
    await wait_for(lambda: not groups.members('lobby'))
    assert member.groups == frozenset()  # type: ignore[attr-defined]


async def test_broadcast_outside_a_request_needs_the_registry() -> None:
    with pytest.raises(RuntimeError, match='pass registry='):
        await broadcast('lobby', 'hello')
    config = Configurator(settings={})
    config.include('aiotao.websocket')
    config.commit()
    await broadcast('lobby', 'nobody listens', registry=config.registry)


async def test_a_registry_without_the_include_names_it() -> None:
    registry = Registry('test')
    registry.settings = {}
    with pytest.raises(LookupError, match=r"config.include\('aiotao.websocket'\)"):
        await broadcast('lobby', 'nobody listens', registry=registry)


async def test_http_view_broadcasts_with_request_websocket_groups(
    server: RunningServer,
) -> None:
    async with connect(server.ws('/room/lobby')) as client:
        assert await client.recv() == 'joined'
        status, body = await asyncio.to_thread(
            http_get, server.http('/announce?text=dinner')
        )
        assert (status, json.loads(body)) == (200, {'members': 1})
        assert await client.recv() == 'dinner'


def test_unknown_backend_setting_is_a_configuration_error() -> None:
    config = Configurator(settings={'aiotao.broadcast': 'nowhere.Backend'})
    with pytest.raises(
        ConfigurationError, match=r'aiotao\.broadcast = nowhere\.Backend: not a known'
    ):
        config.include('aiotao.websocket')


class DummyMember:
    """A group member whose queue holds ``room`` messages."""

    def __init__(self, room: int = 10, is_open: bool = True) -> None:
        self.room = room
        self.is_open = is_open
        self.messages: list[str | bytes] = []

    def send_nowait(self, data: str | bytes) -> bool:
        if len(self.messages) >= self.room:
            self.is_open = False  # dropped as too slow
            return False
        self.messages.append(data)
        return True


async def test_deliver_skips_closed_members_and_never_waits() -> None:
    groups = Groups(InMemoryBackend())
    open_member, closed, full = (
        DummyMember(),
        DummyMember(is_open=False),
        DummyMember(0),
    )
    for member in (open_member, closed, full):
        await groups.join('room', member)
    await groups.broadcast('room', 'one')
    assert open_member.messages == ['one']
    assert closed.messages == [] and full.messages == []
    assert groups.deliver('room', 'two') == 1
    assert groups.deliver('elsewhere', 'three') == 0


async def test_join_twice_and_leave_twice() -> None:
    groups = Groups(InMemoryBackend())
    member = DummyMember()
    await groups.join('room', member)
    await groups.join('room', member)
    assert groups.members('room') == {member}
    assert groups.joined(member) == {'room'}
    await groups.leave('room', member)
    await groups.leave('room', member)
    assert groups.members('room') == frozenset()
    assert groups.joined(member) == frozenset()


class RecordingBackend(InMemoryBackend):
    """Remembers what the groups asked of it, as a Redis backend would see it."""

    def __init__(self, settings: Any = None) -> None:
        super().__init__(settings)
        self.calls: list[tuple[str, str]] = []

    async def subscribe(self, group: str) -> None:
        self.calls.append(('subscribe', group))

    async def unsubscribe(self, group: str) -> None:
        self.calls.append(('unsubscribe', group))


async def test_backend_subscribes_while_the_group_has_local_members() -> None:
    backend = RecordingBackend()
    groups = Groups(backend)
    first, second = DummyMember(), DummyMember()
    await groups.join('room', first)
    await groups.join('room', second)
    await groups.leave_all(first)
    await groups.leave_all(second)
    assert backend.calls == [('subscribe', 'room'), ('unsubscribe', 'room')]


def test_backend_setting_picks_the_backend() -> None:
    config = Configurator(
        settings={'aiotao.broadcast': 'tests.websocket.test_groups.RecordingBackend'}
    )
    config.include('aiotao.websocket')
    config.commit()
    assert isinstance(get_groups(config.registry).backend, RecordingBackend)


class EchoingBackend(InMemoryBackend):
    """A broker that hands every message back, as Redis does to its publisher."""

    async def publish(self, group: str, message: str | bytes) -> None:
        assert self.deliver is not None
        self.deliver(group, 'from another process: ' + str(message))


async def test_broadcast_reaches_local_members_before_the_backend() -> None:
    groups = Groups(EchoingBackend())
    member = DummyMember()
    await groups.join('room', member)
    await groups.broadcast('room', 'hi')
    # local delivery did not wait for the broker, and the backend's
    # deliveries (other processes) come on top
    assert member.messages == ['hi', 'from another process: hi']


class StartRecordingBackend(InMemoryBackend):
    """Remembers the event loops it was started on."""

    def __init__(self) -> None:
        super().__init__()
        self.loops: list[asyncio.AbstractEventLoop] = []

    async def start(self, deliver: Any) -> None:
        await super().start(deliver)
        self.loops.append(asyncio.get_running_loop())


async def test_groups_restart_the_backend_on_a_new_event_loop() -> None:
    backend = StartRecordingBackend()
    groups = Groups(backend)

    async def join_and_broadcast() -> None:
        await groups.join('room', DummyMember())
        await groups.broadcast('room', 'hi')

    await join_and_broadcast()
    await join_and_broadcast()  # started once per loop...
    # ...and again on another loop (a forked worker's, another test's):
    # the connections a backend made belong to the loop that made them
    await asyncio.to_thread(asyncio.run, join_and_broadcast())
    assert len(backend.loops) == 2
    assert backend.loops[0] is asyncio.get_running_loop()
    assert backend.loops[1] is not backend.loops[0]


class GatedBackend(InMemoryBackend):
    """Subscribes only when the test opens the gate (a broker's round trip)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def subscribe(self, group: str) -> None:
        await self.gate.wait()


async def test_every_join_returns_once_the_group_is_subscribed() -> None:
    backend = GatedBackend()
    groups = Groups(backend)
    first = asyncio.create_task(groups.join('room', DummyMember()))
    second = asyncio.create_task(groups.join('room', DummyMember()))
    await asyncio.sleep(0.05)
    # the second member must not believe it receives what others publish
    # while the first one's subscription is still on its way
    assert not first.done() and not second.done()
    backend.gate.set()
    await asyncio.wait_for(asyncio.gather(first, second), 1)
    assert len(groups.members('room')) == 2
