"""A room's worker is killed mid-game: the room resumes on the other worker.

Two gunicorn workers share rooms through Redis, and again through
MongoDB (SecantusDB).  The room's owner is killed with SIGKILL while ana
(connected to it) and bob (relayed from the other worker) play; the
other worker resumes the room from its last checkpoint, under the same
id: bob's session re-attaches by itself, ana's page reconnects with its
seat's token, and both are back in the same seats with their scores,
within ``checkpoint_interval + lease`` seconds, losing at most one
interval of play.  Then the game goes on.

The rules are the arena where a shot fired scores a point
(:class:`tests.game.app.TallyArena`), so that scores grow without aiming.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio
from pymongo import AsyncMongoClient

from aiotao.game.relay import moved
from tests.game.players import TestPlayer, connect, connect_elsewhere
from tests.harness.gunicorn import ServerFactory, ServerProcess
from tests.harness.redis import RedisServer

WORKER = 'aiotao.serving.gunicorn.Worker'
CHECKPOINT_INTERVAL = 1.0
LEASE = 3.0


@dataclass
class Workers:
    """Two gunicorn workers sharing rooms, and the store they share them in."""

    server: ServerProcess
    backend: str
    store: str  # the Redis URL, or the MongoDB URI

    @property
    def url(self) -> str:
        return self.server.url('/game/ws', scheme='ws')

    async def rewrite_checkpoint(
        self, room: str, rewrite: Callable[[str], str]
    ) -> None:
        """Replace the room's checkpoint in the store with ``rewrite(it)``."""
        if self.backend == 'redis':
            client = redis.asyncio.Redis.from_url(self.store)
            try:
                key = f'aiotao:game:{{{room}}}:checkpoint'
                text = await client.get(key)
                assert text is not None, 'no checkpoint was written'
                await client.set(key, rewrite(text.decode()), px=60_000)
            finally:
                await client.aclose()
            return
        mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(self.store)
        try:
            checkpoints = mongo.get_default_database()['aiotao_game_rooms_checkpoints']
            document = await checkpoints.find_one({'_id': room})
            assert document is not None, 'no checkpoint was written'
            await checkpoints.update_one(
                {'_id': room}, {'$set': {'text': rewrite(document['text'])}}
            )
        finally:
            await mongo.close()


@pytest.fixture(params=['redis', 'mongodb'])
def workers(request: pytest.FixtureRequest, tmp_path: Path) -> Workers:
    if request.param == 'redis':
        redis_server: RedisServer = request.getfixturevalue('redis_server')
        store = redis_server.url
        shared = f'aiotao.broadcast = {store}\n'
    else:
        store = request.getfixturevalue('mongo_uri')
        shared = f'mongo.uri = {store}\naiotao.broadcast = mongodb\n'
    ini = tmp_path / 'game.ini'
    ini.write_text(
        '[app:main]\nuse = call:tests.game.app:main\n'
        'aiotao.game.rules = tests.game.app.TallyArena\n'
        f'aiotao.game.checkpoint_interval = {CHECKPOINT_INTERVAL}\n'
        f'aiotao.game.lease = {LEASE}\naiotao.game.owner_timeout = 1\n'
        'aiotao.game.grace_period = 15\n' + shared
    )
    # asked for after the store: gunicorn stops before the store goes
    gunicorn: ServerFactory = request.getfixturevalue('gunicorn')
    server = gunicorn(
        ['--paste', str(ini), '--worker-class', WORKER, '--workers', '2'],
        ready_path='/game/ws',
    )
    server.wait_for_log(r'(?s)aiotao worker .* serving.*aiotao worker .* serving', 30)
    return Workers(server, request.param, store)


def score(player: TestPlayer, seat: str) -> int:
    return int(player.players[seat]['score'])


def keep_firing(
    player: TestPlayer, aim: float, seqs: Iterator[int]
) -> asyncio.Task[None]:
    """``player`` fires at ``aim`` until the task is stopped.

    Said again every half second: a ship that is shot down stops firing
    (the arena's rule), and a sitting ship among bots is shot down now and
    then, which would leave the test waiting for scores that never come.
    """

    async def fire() -> None:
        while True:
            await player.send('input', fire=True, aim=aim, seq=next(seqs))
            await asyncio.sleep(0.5)

    return asyncio.create_task(fire())


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


@pytest.mark.timeout(90)
async def test_a_killed_owners_room_resumes_with_every_seat_and_score(
    workers: Workers,
) -> None:
    url = workers.url
    async with AsyncExitStack() as later, connect(url) as ana:
        owner = ana.messages[0]['worker']
        first = await ana.join(mode='create', bots=2, name='ana')
        room, ana_seat = first['room'], first['seat']
        assert first['worker'] == owner
        async with connect_elsewhere(url, owner) as bob:
            joined = await bob.join(room=room, name='bob')
            bob_seat = joined['seat']
            assert joined['worker'] == owner  # bob is relayed to the owner
            ana_seqs, bob_seqs = itertools.count(1), itertools.count(1)
            ana_firing = keep_firing(ana, 1.0, ana_seqs)
            bob_firing = keep_firing(bob, -1.0, bob_seqs)
            await bob.wait_for(
                lambda p: score(p, bob_seat) >= 3 and score(p, ana_seat) >= 3,
                timeout=15,
            )
            # bob stops scoring long enough before the kill for a
            # checkpoint to hold his final score; ana scores to the end
            await stop(bob_firing)
            await bob.send('input', fire=False, seq=next(bob_seqs))
            await asyncio.sleep(CHECKPOINT_INTERVAL * 2)
            bob_final = score(bob, bob_seat)
            ana_earlier = score(bob, ana_seat)
            await asyncio.sleep(CHECKPOINT_INTERVAL + 0.5)
            ana_last = score(bob, ana_seat)
            assert ana_last > ana_earlier  # (still playing)
            tick_before = bob.tick

            await stop(ana_firing)
            os.kill(owner, signal.SIGKILL)
            killed = time.monotonic()
            welcomes = len(bob.messages)

            async def bob_back() -> float:
                await bob.wait_for(
                    lambda p: any(
                        m['type'] == 'welcome' for m in p.messages[welcomes:]
                    ),
                    timeout=30,
                )
                return time.monotonic() - killed

            async def ana_back() -> tuple[float, TestPlayer]:
                # her page reconnects (to the survivor, or gunicorn's new
                # worker) with her seat's token
                await ana.wait_for(lambda p: p.ws.state.name == 'CLOSED', 10)
                again = await later.enter_async_context(connect_elsewhere(url, owner))
                await again.join(token=first['token'], name='ana')
                return time.monotonic() - killed, again

            bob_took, (ana_took, ana_again) = await asyncio.gather(
                bob_back(), ana_back()
            )
            bound = CHECKPOINT_INTERVAL + LEASE
            print(f'failover: bob back in {bob_took:.2f} s, ana {ana_took:.2f} s')
            assert bob_took < bound and ana_took < bound
            # the same room and seats, told that it resumed
            welcome = next(m for m in bob.messages[welcomes:] if m['type'] == 'welcome')
            assert (welcome['room'], welcome['seat']) == (room, bob_seat)
            assert welcome['rejoined'] is True and 'resumed' in welcome
            assert welcome['worker'] != owner
            assert not any(m['type'] == 'moved' for m in bob.messages[welcomes:])
            assert ana_again.welcome is not None
            assert ana_again.welcome['room'] == room
            assert ana_again.me == ana_seat
            assert 'resumed' in ana_again.welcome
            # the scores of the last checkpoint: bob's exactly, ana's
            # at most one interval (and a tick) behind
            await bob.wait_for(
                lambda p: ana_seat in p.players and not p.players[ana_seat].get('away'),
                timeout=10,
            )
            assert score(bob, bob_seat) == bob_final
            assert score(ana_again, bob_seat) == bob_final
            assert ana_earlier <= score(bob, ana_seat) <= ana_last
            # both see one room: the same state at the same tick (ana may
            # still be scoring, so two different ticks may differ)
            await ana_again.wait_for(lambda p: p.tick == bob.tick, timeout=10)
            assert score(ana_again, ana_seat) == score(bob, ana_seat)
            # from the checkpoint's tick on, not from zero
            assert bob.tick >= tick_before - (CHECKPOINT_INTERVAL + 1) * 20

            # and the game goes on: bob scores again, ana sees it
            bob_firing = keep_firing(bob, -1.0, bob_seqs)
            try:
                await ana_again.wait_for(
                    lambda p: score(p, bob_seat) >= bob_final + 2, timeout=10
                )
            finally:
                await stop(bob_firing)


def other_version(text: str) -> str:
    checkpoint = json.loads(text)
    checkpoint['version'] += 1
    return json.dumps(checkpoint)


@pytest.mark.timeout(90)
@pytest.mark.parametrize(
    ('rewrite', 'reason'),
    [
        (lambda text: text[: len(text) // 2], 'checkpoint is not JSON'),
        (other_version, 'TallyArena checkpoint_version 2, this worker has version 1'),
    ],
    ids=['corrupt', 'other-version'],
)
async def test_a_bad_checkpoint_gives_a_fresh_room_not_a_crash(
    workers: Workers, rewrite: Callable[[str], str], reason: str
) -> None:
    url = workers.url
    async with connect(url) as ana:
        owner = ana.messages[0]['worker']
        first = await ana.join(mode='create', bots=1, name='ana')
        room = first['room']
        async with connect_elsewhere(url, owner) as bob:
            survivor = bob.messages[0]['worker']
            joined = await bob.join(room=room, name='bob')
            assert joined['worker'] == owner
            await asyncio.sleep(CHECKPOINT_INTERVAL * 1.5)  # a checkpoint

            os.kill(owner, signal.SIGKILL)
            # the owner writes no more: what the store holds is now bad
            await workers.rewrite_checkpoint(room, rewrite)
            told = await bob.message('moved')
            successor = told['room']
            assert told == moved(room, successor) and successor != room
            await bob.wait_for(lambda p: p.welcome and p.welcome['room'] == successor)
            assert bob.welcome is not None and bob.welcome['worker'] == survivor
            tick = bob.tick
            await bob.wait_for(lambda p: p.tick > tick + 5)  # it plays
            # the worker that read the bad checkpoint is alive, and said why
            os.kill(survivor, 0)
            log = workers.server.log()
            assert f'game room {room} is replaced by a fresh room, not resumed' in log
            assert reason in log
            assert 'Traceback' not in log
