"""A room's owning worker dies: its players, on every worker, stay together.

The owner broadcasts the room's state every tick; the worker holding a
relayed player listens (:class:`~aiotao.game.relay.OwnerWatch`) and,
after ``aiotao.game.owner_timeout`` seconds of silence, takes the room out
of the directory and moves the player to the room's one successor, with
a ``moved`` message; a player of the dead worker reconnecting with its
seat token is moved to the same room.
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

from aiotao.game.connection import GameConnection, LocalSeat
from aiotao.game.directory import MemoryDirectory, RoomInfo
from aiotao.game.lobby import Lobby
from aiotao.game.protocol import Join
from aiotao.game.relay import (
    OwnerWatch,
    RemoteSeat,
    connection_group,
    control_group,
    moved,
)
from aiotao.game.room import state_group
from aiotao.game.settings import GameSettings
from aiotao.websocket.groups import Groups, InMemoryBackend
from tests.game.app import ARENA
from tests.game.players import connect, connect_elsewhere
from tests.harness.gunicorn import ServerFactory
from tests.harness.redis import RedisServer

WORKER = 'aiotao.serving.gunicorn.Worker'

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


def test_a_watch_is_deaf_not_silent_while_the_broker_is_away() -> None:
    clock, up = Clock(), [False]
    watch = OwnerWatch(timeout=1.0, clock=clock, connected=lambda: up[0])
    clock.now += 30  # a broker failover: nothing comes, from anyone
    assert not watch.is_silent()
    up[0] = True  # back: the timeout counts from now
    clock.now += 0.5
    assert not watch.is_silent()
    watch.grace(2.0)  # the owner may reconnect up to 2 s after this worker
    clock.now += 2.9
    assert not watch.is_silent()
    clock.now += 0.2
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


def heartbeats(session: GameConnection) -> list[asyncio.Task[Any]]:
    name = f'game session {session.id} heartbeat'
    return [task for task in asyncio.all_tasks() if task.get_name() == name]


async def test_relayed_sessions_move_together_when_the_owner_dies() -> None:
    groups = Groups(InMemoryBackend())
    directory = MemoryDirectory()
    settings = GameSettings.from_settings(
        {
            'aiotao.game.rules': ARENA,
            'aiotao.game.owner_timeout': '0.3',
            'aiotao.game.empty_timeout': '0.1',
        }
    )
    lobby = Lobby(settings, groups, directory)
    owner = DyingOwner(groups)
    await owner.start()
    await directory.publish(RoomInfo('r1', 'another-worker', 2, 10, bots=2), lease=60)
    ws, other_ws = Connection(groups), Connection(groups)
    session, other = GameConnection(ws, lobby), GameConnection(other_ws, lobby)
    try:
        welcome = await session.join(Join(name='ana'))
        assert (welcome['room'], welcome['seat']) == ('r1', 'p1')
        await other.join(Join(name='bob'))
        assert isinstance(session.seat, RemoteSeat)
        # a live owner keeps the players in, past many timeouts' worth of ticks
        await asyncio.sleep(1.0)
        assert isinstance(session.seat, RemoteSeat)
        assert not ws.of_type('moved')

        await owner.die()
        waited = await wait_until(lambda: ws.of_type('moved'), timeout=2)
        # silent since its last tick (up to 50 ms before it died)
        assert 0.3 - 0.05 <= waited < 0.3 + 0.5
        [told] = ws.of_type('moved')
        successor = told['room']
        assert told == moved('r1', successor)
        await wait_until(lambda: other_ws.of_type('moved'), timeout=2)
        assert other_ws.of_type('moved') == [told]  # the same room for both
        assert not ws.of_type('room_closed')
        # the new room plays here, with both, and the old one's bots (but
        # the one the second person took the seat of)
        assert isinstance(session.seat, LocalSeat)
        assert session.seat.room_id == successor
        room = lobby.rooms[successor]
        await wait_until(lambda: room.humans == 2, timeout=2)
        assert room.bots == 1
        assert ws.of_type('welcome')[-1]['room'] == successor
        await wait_until(lambda: ws.of_type('snapshot'), timeout=2)
        # nothing left listening to the dead room; it is out of the
        # directory, and its successor is known to every worker
        await wait_until(lambda: not heartbeats(session), timeout=1)
        assert groups.members(state_group('r1')) == frozenset()
        assert await directory.get('r1') is None
        assert await directory.successor('r1') == successor
        # the seat was released, should the owner only have stalled
        await wait_until(lambda: owner.requests[-1]['op'] == 'disconnect', 1)
        # the old room's late room_closed is not passed on
        late = {'type': 'room_closed', 'room': 'r1', 'reason': 'late'}
        await groups.broadcast(connection_group(session.id), json.dumps(late))
        assert ws.of_type('room_closed') == []

        # a player of the dead worker coming back with its token joins them
        third_ws = Connection(groups)
        third = GameConnection(third_ws, lobby)
        back = await third.join(Join(token='r1.token', name='cy'))
        assert back['room'] == successor
        assert third_ws.of_type('moved') == [told]
        await third.closed()
    finally:
        await session.closed()
        await other.closed()
        await owner.die()
        await lobby.close()


# -- two gunicorn workers, the owner killed -----------------------------------


@pytest.fixture
def two_workers(
    redis_server: RedisServer, gunicorn: ServerFactory, tmp_path: Path
) -> str:
    """Two workers sharing rooms through Redis, with a long lease, no checkpoints.

    (Without checkpoints a dead worker's room is replaced by a fresh one:
    ``test_failover.py`` has the room resumed from its checkpoint.)
    """
    ini = tmp_path / 'game.ini'
    # a lease of 10 s (the default): without the relaying worker taking the
    # dead room out of the directory, quick joins would go to it for 10 s
    ini.write_text(
        '[app:main]\nuse = call:tests.game.app:main\n'
        'aiotao.game.lease = 10\naiotao.game.owner_timeout = 1\n'
        'aiotao.game.checkpoint_interval = 0\n'
        f'aiotao.broadcast = {redis_server.url}\n'
    )
    server = gunicorn(
        ['--paste', str(ini), '--worker-class', WORKER, '--workers', '2'],
        ready_path='/game/ws',
    )
    server.wait_for_log(r'(?s)aiotao worker .* serving.*aiotao worker .* serving', 30)
    return server.url('/game/ws', scheme='ws')


async def test_players_of_a_killed_worker_stay_together(
    two_workers: str,
) -> None:
    url = two_workers
    async with connect(url) as ana:
        owner = ana.messages[0]['worker']
        first = await ana.join(name='ana')
        room, token = first['room'], first['token']
        async with connect_elsewhere(url, owner) as bob:
            relay_worker = bob.messages[0]['worker']
            joined = await bob.join(name='bob')
            assert (joined['room'], joined['worker']) == (room, owner)

            os.kill(owner, signal.SIGKILL)
            killed = time.monotonic()
            told = await bob.message('moved')
            # owner_timeout (1 s), and a little for the check's period
            assert time.monotonic() - killed < 2.5
            successor = told['room']
            assert told == moved(room, successor)
            assert successor != room
            await bob.wait_for(lambda p: p.welcome and p.welcome['room'] == successor)
            assert bob.welcome is not None
            assert bob.welcome['worker'] == relay_worker  # the room plays here
            tick = bob.tick
            await bob.wait_for(lambda p: p.tick > tick + 5)

            # ana's page reconnects (to the survivor, or gunicorn's new
            # worker) with her seat's token: she joins bob, not a new room
            async with connect_elsewhere(url, owner) as ana_again:
                again = await ana_again.join(token=token, name='ana')
                assert again['room'] == successor
                assert (await ana_again.message('moved'))['room'] == successor
                await bob.wait_for(
                    lambda p: {'ana', 'bob'} <= {q['name'] for q in p.players.values()}
                )
