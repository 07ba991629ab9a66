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
import os
import signal
import time
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from tests.game.players import TestPlayer, connect, connect_elsewhere
from tests.harness.gunicorn import ServerFactory
from tests.harness.redis import RedisServer

WORKER = 'aiotao.gunicorn.Worker'
CHECKPOINT_INTERVAL = 1.0
LEASE = 3.0


@pytest.fixture(params=['redis', 'mongodb'])
def two_workers(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == 'redis':
        redis_server: RedisServer = request.getfixturevalue('redis_server')
        shared = f'aiotao.broadcast = {redis_server.url}\n'
    else:
        uri = request.getfixturevalue('mongo_uri')
        shared = f'mongo.uri = {uri}\naiotao.broadcast = mongodb\n'
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
    return server.url('/game/ws', scheme='ws')


def score(player: TestPlayer, seat: str) -> int:
    return int(player.players[seat]['score'])


@pytest.mark.timeout(90)
async def test_a_killed_owners_room_resumes_with_every_seat_and_score(
    two_workers: str,
) -> None:
    url = two_workers
    async with AsyncExitStack() as later, connect(url) as ana:
        owner = ana.messages[0]['worker']
        first = await ana.join(mode='create', bots=2, name='ana')
        room, ana_seat = first['room'], first['seat']
        assert first['worker'] == owner
        async with connect_elsewhere(url, owner) as bob:
            joined = await bob.join(room=room, name='bob')
            bob_seat = joined['seat']
            assert joined['worker'] == owner  # bob is relayed to the owner
            await ana.send('input', fire=True, aim=1.0, seq=1)
            await bob.send('input', fire=True, aim=-1.0, seq=1)
            await bob.wait_for(
                lambda p: score(p, bob_seat) >= 3 and score(p, ana_seat) >= 3,
                timeout=15,
            )
            # bob stops scoring long enough before the kill for a
            # checkpoint to hold his final score; ana scores to the end
            await bob.send('input', fire=False, seq=2)
            await asyncio.sleep(CHECKPOINT_INTERVAL * 2)
            bob_final = score(bob, bob_seat)
            ana_earlier = score(bob, ana_seat)
            await asyncio.sleep(CHECKPOINT_INTERVAL + 0.5)
            ana_last = score(bob, ana_seat)
            assert ana_last > ana_earlier  # (still playing)
            tick_before = bob.tick

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
            assert score(ana_again, ana_seat) == score(bob, ana_seat)
            # from the checkpoint's tick on, not from zero
            assert bob.tick >= tick_before - (CHECKPOINT_INTERVAL + 1) * 20

            # and the game goes on: bob scores again, ana sees it
            await bob.send('input', fire=True, aim=-1.0, seq=3)
            await ana_again.wait_for(
                lambda p: score(p, bob_seat) >= bob_final + 2, timeout=10
            )
