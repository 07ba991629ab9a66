"""Two gunicorn workers behind one port share rooms through Redis or MongoDB.

The players' websockets land on whichever worker accepts them (the
``hello`` message says which); a player on the worker that does not own
the room is relayed to the owner through the broadcast backend.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.game.players import TestPlayer, connect, connect_elsewhere
from tests.harness.gunicorn import ServerFactory
from tests.harness.redis import RedisServer

WORKER = 'aiotao.gunicorn.Worker'


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
