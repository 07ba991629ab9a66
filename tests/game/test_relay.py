"""Two gunicorn workers behind one port share rooms through Redis or MongoDB.

The players' websockets land on whichever worker accepts them (the
``hello`` message says which); a player on the worker that does not own
the room is relayed to the owner through the broadcast backend.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
from pathlib import Path
from typing import Any

import pytest
from aiotao_demo.arena import Arena, ArenaInput

from aiotao.game.connection import GameConnection
from aiotao.game.directory import MemoryDirectory
from aiotao.game.lobby import Lobby
from aiotao.game.protocol import Join
from aiotao.game.relay import ControlInbox, RemoteSeat, connection_group, control_group
from aiotao.game.room import Room
from aiotao.game.settings import GameSettings
from aiotao.websocket.groups import Groups, InMemoryBackend
from aiotao.websocket.messages import MessageError
from tests.game.players import TestPlayer, connect, connect_elsewhere
from tests.game.test_owner_loss import Connection
from tests.harness.gunicorn import ServerFactory
from tests.harness.redis import RedisServer

WORKER = 'aiotao.serving.gunicorn.Worker'


def moved(player: TestPlayer, id: str, start: dict[str, Any]) -> bool:
    now = player.players.get(id)
    if not now:
        return False
    return bool((now['x'], now['y']) != (start['x'], start['y']))


@pytest.fixture(params=['redis', 'mongodb'])
def two_workers(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Two workers on one port, sharing rooms through Redis or MongoDB."""
    if request.param == 'redis':
        redis_server: RedisServer = request.getfixturevalue('redis_server')
        shared = f'aiotao.broadcast = {redis_server.url}\n'
    else:
        uri = request.getfixturevalue('mongo_uri')
        shared = f'mongo.uri = {uri}\naiotao.broadcast = mongodb\n'
    ini = tmp_path / 'game.ini'
    # short leases: a killed worker's players are noticed within a second
    ini.write_text(
        '[app:main]\nuse = call:tests.game.app:main\n'
        'aiotao.game.lease = 1\naiotao.game.grace_period = 2\n' + shared
    )
    # asked for after the store: gunicorn stops before the store goes (a
    # database dropped under open change streams takes seconds to go)
    gunicorn: ServerFactory = request.getfixturevalue('gunicorn')
    server = gunicorn(
        ['--paste', str(ini), '--worker-class', WORKER, '--workers', '2'],
        ready_path='/game/ws',
    )
    # both workers serving (not just booted): else every connection lands on one
    server.wait_for_log(r'(?s)aiotao worker .* serving.*aiotao worker .* serving', 30)
    return server.url('/game/ws', scheme='ws')


async def test_players_on_two_workers_play_in_one_room(two_workers: str) -> None:
    url = two_workers
    async with connect(url) as ana:
        first = ana.messages[0]['worker']
        welcome = await ana.join(name='ana')
        assert welcome['worker'] == first  # the room is ana's worker's
        async with connect_elsewhere(url, first) as bob:
            joined = await bob.join(name='bob')
            assert joined['room'] == welcome['room']
            assert joined['worker'] == first  # the owner, not bob's worker
            await ana.wait_for(lambda p: joined['seat'] in p.players)
            ana_start = dict(bob.players[ana.me])
            bob_start = dict(ana.players[bob.me])
            await ana.send('input', dx=1, dy=0.5)
            await bob.send('input', dx=-1, dy=-0.5, fire=True)
            await bob.wait_for(lambda p: moved(p, ana.me, ana_start))
            await ana.wait_for(lambda p: moved(p, bob.me, bob_start))
            await ana.wait_for(lambda p: p.state and p.state['bullets'])
            assert ana.players[bob.me]['name'] == 'bob'
            # bad input from the relayed player is refused on its own worker
            start = len(bob.messages)
            await bob.send('input', dx=9)
            assert (await bob.message('error', after=start))['code'] == 'invalid'
        # bob dropped; his seat waits for him, whichever worker he lands on
        await asyncio.sleep(0.1)
        assert joined['seat'] in ana.players
        async with connect(url) as bob_again:
            back = await bob_again.join(token=joined['token'])
            assert back['seat'] == joined['seat']
            assert back['room'] == welcome['room']
            assert back['rejoined'] is True


async def test_private_rooms_leaving_and_a_killed_worker(two_workers: str) -> None:
    url = two_workers
    async with connect(url) as ana:
        owner = ana.messages[0]['worker']
        private = await ana.join(mode='private', name='ana')
        async with connect_elsewhere(url, owner) as bob:
            relay_worker = bob.messages[0]['worker']
            # a private room's code works on every worker
            joined = await bob.join(mode='private', code=private['code'], name='bob')
            assert joined['room'] == private['room']
            await ana.wait_for(lambda p: joined['seat'] in p.players)
            # leaving through the relay frees the seat at the owner
            await bob.send('leave')
            await ana.wait_for(lambda p: joined['seat'] not in p.players)
            joined = await bob.join(mode='private', code=private['code'], name='bob')
            await ana.wait_for(lambda p: joined['seat'] in p.players)
            # the worker holding bob's connection dies without a word
            os.kill(relay_worker, signal.SIGKILL)
            # the owner stops hearing from it: bob's seat goes after a lease
            # (1 s) and the grace period (2 s)
            await ana.wait_for(lambda p: joined['seat'] not in p.players, timeout=8)
        assert ana.me in ana.players


# -- a resumed room re-attaches the relayed players it hears from ------------


class Listener:
    """A member of a relayed connection's group: what the owner answers it."""

    is_open = True

    def __init__(self) -> None:
        self.got: list[dict[str, Any]] = []

    def send_nowait(self, data: str | bytes) -> bool:
        self.got.append(json.loads(data))
        return True

    # (and a link of a player on the room's own worker)
    async def send(self, text: str) -> None:
        self.send_nowait(text)

    def detach(self) -> None:
        pass


async def test_a_resumed_room_reattaches_relayed_players_by_their_token() -> None:
    groups = Groups(InMemoryBackend())
    written = Room(Arena(random.Random(1)), id='r1', broadcast=groups.broadcast)
    seat = await written.join('bob', Listener())
    checkpoint = written.checkpoint('dead-worker')
    # resumed on this worker: bob's seat waits, his worker still relays to it
    room = Room.resume(checkpoint, Arena(random.Random(2)), broadcast=groups.broadcast)
    changed: list[Room] = []

    async def publish(room: Room) -> None:
        changed.append(room)

    inbox = ControlInbox(room, groups, publish)
    await groups.join(control_group('r1'), inbox)
    bob, stranger = Listener(), Listener()
    await groups.join(connection_group('c-bob'), bob)
    await groups.join(connection_group('c-x'), stranger)
    try:
        relayed = RemoteSeat(groups, 'r1', seat.player.id, 'c-bob', seat.token)
        await relayed.submit(ArenaInput(dx=1, seq=5))  # (lost: no link yet)
        for _ in range(50):
            if bob.got:
                break
            await asyncio.sleep(0.01)
        [welcome] = bob.got
        assert welcome['type'] == 'welcome' and welcome['rejoined']
        assert welcome['seat'] == seat.player.id and 'resumed' in welcome
        assert room.seats[seat.player.id].disconnected_at is None
        # from now on its inputs are its seat's
        await relayed.submit(ArenaInput(dx=1, seq=6))
        assert room.seats[seat.player.id].inputs[-1].seq == 6
        # a token the room does not know: told the room closed for it
        other = RemoteSeat(groups, 'r1', 'p9', 'c-x', 'r1.not-a-seat')
        await other.alive()
        for _ in range(50):
            if stranger.got and stranger.got[-1]['type'] == 'room_closed':
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        assert [m['type'] for m in stranger.got] == ['join_failed', 'room_closed']
    finally:
        await inbox.close()


async def test_a_refused_relayed_join_is_answered_at_once() -> None:
    groups = Groups(InMemoryBackend())
    directory = MemoryDirectory()
    settings = GameSettings.from_settings(
        {'aiotao.game.rules': 'tests.game.rules.Counters'}
    )
    owner = Lobby(settings, groups, directory)
    here = Lobby(settings, groups, directory)
    room = await owner.create()
    for name in ('ana', 'bob', 'cy'):
        await room.join(name, Listener())
    await owner.publish(room)
    session = GameConnection(Connection(groups), here)
    try:
        started = asyncio.get_running_loop().time()
        with pytest.raises(MessageError, match='is full') as refused:
            await session.join(Join(room=room.id, name='dan'))
        assert refused.value.as_json()['code'] == 'room_full'  # the owner's own
        # the owner's refusal, not the relay's timeout
        assert asyncio.get_running_loop().time() - started < 1
    finally:
        await session.closed()
        await owner.close()
        await here.close()
