"""A room's owning worker dies: its players relayed from other workers are told.

The owner broadcasts the room's state every tick; the worker holding a
relayed player listens (:class:`~aiotao.game.relay.OwnerWatch`) and,
after ``aiotao.game.owner_timeout`` seconds of silence, sends the player
``room_closed``, frees the session and takes the room out of the
directory, so that a quick join finds a live room at once.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from aiotao.game.arena import ArenaInput
from aiotao.game.directory import MemoryDirectory, RoomInfo
from aiotao.game.errors import NotInRoom
from aiotao.game.lobby import Lobby
from aiotao.game.protocol import GameSession, Join
from aiotao.game.relay import (
    OWNER_LOST,
    OwnerWatch,
    RemoteSeat,
    connection_group,
    control_group,
)
from aiotao.game.room import state_group
from aiotao.game.settings import GameSettings
from aiotao.websocket.groups import Groups, InMemoryBackend
from tests.game.players import connect, connect_elsewhere
from tests.harness.gunicorn import ServerFactory
from tests.harness.redis import RedisServer

WORKER = 'aiotao.gunicorn.Worker'

# -- the watch alone ----------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_owner_is_silent_only_after_the_whole_timeout() -> None:
    clock = Clock()
    watch = OwnerWatch(timeout=1.0, clock=clock)
    clock.now += 1.0
    assert not watch.is_silent()  # a whole timeout, not more: still alive
    clock.now += 0.01
    assert watch.is_silent()


def test_every_message_of_the_room_keeps_its_owner_alive() -> None:
    clock = Clock()
    watch = OwnerWatch(timeout=1.0, clock=clock)
    for _tick in range(100):  # ten seconds of ticks, ten a second
        clock.now += 0.1
        assert watch.send_nowait(b'{"type":"delta"}')
        assert not watch.is_silent()
    clock.now += 1.5
    assert watch.is_silent()


# -- a relayed session, with a room owner that dies ---------------------------


class Connection:
    """A websocket connection, as the session and the groups see it."""

    def __init__(self, groups: Groups) -> None:
        self.groups = groups
        self.sent: list[dict[str, Any]] = []
        self.is_open = True

    def send_nowait(self, data: str | bytes) -> bool:
        self.sent.append(json.loads(data))
        return True

    async def join(self, group: str) -> None:
        await self.groups.join(group, self)

    async def leave(self, group: str) -> None:
        await self.groups.leave(group, self)

    def of_type(self, type: str) -> list[dict[str, Any]]:
        return [message for message in self.sent if message['type'] == type]


class DyingOwner:
    """The owner of room 'r1' on another worker: it ticks, then dies without a word."""

    room_id = 'r1'
    is_open = True

    def __init__(self, groups: Groups) -> None:
        self.groups = groups
        #: What the room heard from the relaying worker.
        self.requests: list[dict[str, Any]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self.groups.join(control_group(self.room_id), self)
        self._spawn(self._tick())

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _tick(self) -> None:
        for tick in range(10**6):
            delta = {'type': 'delta', 'tick': tick, 'patch': {}}
            await self.groups.broadcast(state_group(self.room_id), json.dumps(delta))
            await asyncio.sleep(0.05)

    def send_nowait(self, data: str | bytes) -> bool:
        request = json.loads(data)
        self.requests.append(request)
        if request['op'] == 'join' and self._tasks:
            welcome = {
                'type': 'welcome',
                'room': self.room_id,
                'seat': 'p1',
                'token': f'{self.room_id}.token',
                'code': None,
                'worker': 4242,
            }
            self._spawn(
                self.groups.broadcast(
                    connection_group(request['conn']), json.dumps(welcome)
                )
            )
        return True

    async def die(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)


async def wait_until(check: Any, timeout: float) -> float:
    """Seconds until ``check()`` is true (failing after ``timeout``)."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, f'not within {timeout} s'
        await asyncio.sleep(0.01)
    return time.monotonic() - started


def heartbeats(session: GameSession) -> list[asyncio.Task[Any]]:
    name = f'game session {session.id} heartbeat'
    return [task for task in asyncio.all_tasks() if task.get_name() == name]


async def test_a_relayed_session_leaves_a_room_whose_owner_died() -> None:
    groups = Groups(InMemoryBackend())
    directory = MemoryDirectory()
    settings = GameSettings.from_settings(
        {'aiotao.game.owner_timeout': '0.3', 'aiotao.game.empty_timeout': '0.1'}
    )
    lobby = Lobby(settings, groups, directory)
    owner = DyingOwner(groups)
    await owner.start()
    await directory.publish(RoomInfo('r1', 'another-worker', 1, 10), lease=60)
    ws = Connection(groups)
    session = GameSession(ws, lobby)
    try:
        welcome = await session.join(Join())
        assert (welcome['room'], welcome['seat']) == ('r1', 'p1')
        assert isinstance(session.seat, RemoteSeat)
        # a live owner keeps the player in, past many timeouts' worth of ticks
        await asyncio.sleep(1.0)
        assert isinstance(session.seat, RemoteSeat)
        assert not ws.of_type('room_closed')

        await owner.die()
        waited = await wait_until(lambda: ws.of_type('room_closed'), timeout=2)
        # silent since its last tick (up to 50 ms before it died)
        assert 0.3 - 0.05 <= waited < 0.3 + 0.5
        assert ws.of_type('room_closed') == [
            {'type': 'room_closed', 'room': 'r1', 'reason': OWNER_LOST}
        ]
        # the session is out of the room: nothing left listening or beating
        assert session.seat is None
        await wait_until(lambda: not heartbeats(session), timeout=1)
        assert groups.members(state_group('r1')) == frozenset()
        # the seat is released, should the owner only have stalled; and the
        # room is out of the directory for every worker
        await wait_until(lambda: owner.requests[-1]['op'] == 'disconnect', 1)
        assert await directory.get('r1') is None
        # no input goes to the room any more
        relayed = len(owner.requests)
        with pytest.raises(NotInRoom):
            await session.input(ArenaInput(dx=1))
        assert len(owner.requests) == relayed
        # the room's own room_closed, arriving late, is not told twice
        late = {'type': 'room_closed', 'room': 'r1', 'reason': 'late'}
        await groups.broadcast(connection_group(session.id), json.dumps(late))
        assert len(ws.of_type('room_closed')) == 1

        # a quick join opens a room on this worker, which plays
        again = await session.join(Join())
        assert again['room'] in lobby.rooms
        await wait_until(lambda: ws.of_type('snapshot'), timeout=2)
    finally:
        await session.closed()
        await owner.die()
        await lobby.close()


# -- two gunicorn workers, the owner killed -----------------------------------


@pytest.fixture
def two_workers(
    redis_server: RedisServer, gunicorn: ServerFactory, tmp_path: Path
) -> str:
    """Two workers sharing rooms through Redis, with a long lease."""
    ini = tmp_path / 'game.ini'
    # a lease of 10 s (the default): without the relaying worker taking the
    # dead room out of the directory, quick joins would go to it for 10 s
    ini.write_text(
        '[app:main]\nuse = call:tests.game.app:main\n'
        'aiotao.game.lease = 10\naiotao.game.owner_timeout = 1\n'
        f'aiotao.broadcast = {redis_server.url}\n'
    )
    server = gunicorn(
        ['--paste', str(ini), '--worker-class', WORKER, '--workers', '2'],
        ready_path='/game/ws',
    )
    server.wait_for_log(r'(?s)aiotao worker .* serving.*aiotao worker .* serving', 30)
    return server.url('/game/ws', scheme='ws')


async def test_a_relayed_player_is_told_when_the_owning_worker_is_killed(
    two_workers: str,
) -> None:
    url = two_workers
    async with connect(url) as ana:
        owner = ana.messages[0]['worker']
        room = (await ana.join(name='ana'))['room']
        async with connect_elsewhere(url, owner) as bob:
            relay_worker = bob.messages[0]['worker']
            joined = await bob.join(name='bob')
            assert (joined['room'], joined['worker']) == (room, owner)

            os.kill(owner, signal.SIGKILL)
            killed = time.monotonic()
            closed = await bob.message('room_closed')
            # owner_timeout (1 s), and a little for the check's period
            assert time.monotonic() - killed < 2.5
            assert closed == {'type': 'room_closed', 'room': room, 'reason': OWNER_LOST}
            # bob is out of the room: his inputs are refused on his worker
            start = len(bob.messages)
            await bob.send('input', dx=1)
            assert (await bob.message('error', after=start))['code'] == 'not_in_room'

            # a quick join goes to a live worker at once, not to the dead room
            started = time.monotonic()
            again = await bob.join(name='bob')
            assert time.monotonic() - started < 2.5
            assert again['room'] != room
            assert again['worker'] == relay_worker
            tick = bob.tick
            await bob.wait_for(lambda p: p.tick > tick + 5)  # the room plays
