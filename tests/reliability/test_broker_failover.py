"""The broker fails over under chat and game: Redis Sentinel and Redis Cluster.

Two gunicorn masters (one aiotao worker each, standing in for two
machines) serve the chat and the game (``tests/reliability/broker_app.py``),
their broadcasts and room directory on a Redis of the test's own:

* Sentinel: one master, one replica, three sentinels;
* Cluster: three masters, each with a replica, chat and game rooms on
  every shard (``PUBSUB SHARDCHANNELS`` of each master says so).

A chat client and a game player on each gunicorn master; the Redis
master (Sentinel) or one shard's master (Cluster) is killed with SIGKILL
while the chat goes on.  The tests assert what the docs' scaling page
states:

* within :data:`RECOVERY_BOUND` seconds of the kill, chat messages and
  game moves cross the gunicorn masters again, both ways;
* no acknowledged chat message is lost: every message acknowledged during
  the failover reaches the other master's client, live or in the
  ``history`` its worker sends again once reconnected (``"resync": true``);
* the relayed game player gets a full snapshot after the failover (the
  resync; keyframes are set ten minutes apart here) and stays in its room
  (the silence of the broker is not taken for the death of the room's
  worker).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.chat.clients import LOGGING, ChatClient
from tests.game.players import TestPlayer, connect
from tests.harness.gunicorn import ServerFactory, ServerProcess
from tests.harness.redis_cluster import RedisCluster, redis_cluster
from tests.harness.redis_sentinel import RedisSentinel, redis_sentinel

__all__ = ['redis_cluster', 'redis_sentinel']

WORKER = 'aiotao.serving.gunicorn.Worker'
#: Seconds from the kill of a Redis master until messages and moves cross
#: the gunicorn masters again: the failover (about 2 to 4 s here, with a
#: down-after / node timeout of 1 s) plus a reconnection (retry_max 0.5 s)
#: and the resync, with room for a busy test machine.
RECOVERY_BOUND = 20.0
SETTINGS = {
    'aiotao.chat.rate': '1000',
    'aiotao.chat.burst': '1000',
    'aiotao.chat.history_size': '500',
    'aiotao.presence.heartbeat': '0.3',
    'aiotao.presence.timeout': '1.5',
    'aiotao.presence.linger': '0.3',
    'aiotao.broadcast.timeout': '1',
    'aiotao.broadcast.retry_max': '0.5',
    'mongo.option.serverSelectionTimeoutMS': '3000',
    # a full snapshot after the failover is the resync, not a keyframe
    'aiotao.game.keyframe_interval': '600',
}


def serve(
    gunicorn: ServerFactory, directory: Path, name: str, settings: dict[str, str]
) -> ServerProcess:
    """One gunicorn master with one aiotao worker serving the chat and the game."""
    ini = directory / f'{name}.ini'
    lines = ['[app:main]', 'use = call:tests.reliability.broker_app:main']
    lines += [f'{key} = {value}' for key, value in settings.items()]
    ini.write_text('\n'.join(lines) + '\n' + LOGGING)
    return gunicorn(['--paste', str(ini), '-k', WORKER, '-w', '1'], ready_path='/hello')


def has_text(text: str) -> Callable[[dict[str, Any]], bool]:
    return lambda message: message.get('text') == text


async def heard_across(speaker: ChatClient, listener: ChatClient, text: str) -> None:
    """Retry until a message of ``speaker`` reaches ``listener`` live."""
    n = 0
    while True:
        n += 1
        attempt = f'{text} {n}'
        await speaker.say(attempt)
        try:
            await listener.wait_for(has_text(attempt), timeout=0.5)
            return
        except TimeoutError:
            continue


def position(player: TestPlayer, seat: str) -> tuple[float, float] | None:
    ship = player.players.get(seat)
    return (ship['x'], ship['y']) if ship else None


async def moves_cross(mover: TestPlayer, watcher: TestPlayer) -> None:
    """Retry until an input of ``mover`` shows in the state ``watcher`` gets."""
    direction = 1
    while True:
        start = position(watcher, mover.me)
        direction = -direction
        await mover.send('input', dx=direction, dy=0.5 * direction)
        try:
            await watcher.wait_for(
                lambda p, start=start: position(p, mover.me) not in (None, start),
                timeout=0.5,
            )
            return
        except AssertionError:
            continue


async def chat_during(client: ChatClient, until: asyncio.Future[Any]) -> list[str]:
    """Keep ``client`` saying messages until ``until`` is done; the acknowledged ones."""
    acknowledged = []
    n = 0
    while not until.done():
        n += 1
        text = f'{client.user} during the failover {n}'
        await client.say(text)  # stored: acknowledged
        acknowledged.append(text)
        await asyncio.sleep(0.05)
    return acknowledged


async def all_reach(client: ChatClient, texts: list[str], timeout: float) -> None:
    """Wait until ``client`` has every one of ``texts`` (live, or in a resync's history)."""
    async with asyncio.timeout(timeout):
        while not set(texts) <= set(client.texts()):
            await asyncio.sleep(0.05)


@asynccontextmanager
async def chat_pair(
    one: ServerProcess, two: ServerProcess, room: str
) -> AsyncIterator[tuple[ChatClient, ChatClient]]:
    ada = await ChatClient(one.url(f'/chat/{room}', scheme='ws'), 'ada').connect()
    try:
        bob = await ChatClient(two.url(f'/chat/{room}', scheme='ws'), 'bob').connect()
        try:
            yield ada, bob
        finally:
            await bob.close()
    finally:
        await ada.close()


async def recovered(
    chats: list[tuple[ChatClient, ChatClient]], owner: TestPlayer, relayed: TestPlayer
) -> None:
    """Chat and moves cross both ways again."""
    for ada, bob in chats:
        await heard_across(ada, bob, f'{ada.url} after')
        await heard_across(bob, ada, f'{bob.url} after, other way')
    await moves_cross(owner, relayed)
    await moves_cross(relayed, owner)


async def resynced(player: TestPlayer, since: int) -> None:
    """A full snapshot reaches ``player`` after its message ``since``.

    Moves may cross again a tick or two before it (a delta applies to the
    state the player has), so it is waited for, within the recovery bound.
    """
    try:
        await player.wait_for(
            lambda p: any(m['type'] == 'snapshot' for m in p.messages[since:]),
            timeout=RECOVERY_BOUND,
        )
    except AssertionError as exc:
        raise AssertionError(f'no resync snapshot: {exc}') from None


def game_url(server: ServerProcess) -> str:
    return server.url('/game/ws', scheme='ws')


@pytest.mark.timeout(150)
async def test_sentinel_failover_under_chat_and_game(
    gunicorn: ServerFactory,
    tmp_path: Path,
    mongo_uri: str,
    redis_sentinel: RedisSentinel,
) -> None:
    settings = {
        'mongo.uri': mongo_uri,
        'aiotao.broadcast': redis_sentinel.url,
        **SETTINGS,
    }
    one = serve(gunicorn, tmp_path, 'one', settings)
    two = serve(gunicorn, tmp_path, 'two', settings)
    async with (
        chat_pair(one, two, 'lobby') as (ada, bob),
        connect(game_url(one)) as ana,
        connect(game_url(two)) as ben,
    ):
        # both workers reach the broker (a relayed join made before would be lost)
        await heard_across(ada, bob, 'hello')
        await heard_across(bob, ada, 'hello back')
        room = (await ana.join(name='ana', mode='create'))['room']
        assert (await ben.join(name='ben', room=room))['room'] == room
        await recovered([(ada, bob)], ana, ben)  # all is well before

        old_master = redis_sentinel.master_port()
        killed_at = time.monotonic()
        redis_sentinel.kill_master()
        since = len(ben.messages)
        failover = asyncio.ensure_future(
            asyncio.to_thread(redis_sentinel.wait_for_failover, old_master)
        )
        acknowledged = await chat_during(ada, failover)
        promoted_in = await failover
        async with asyncio.timeout(RECOVERY_BOUND):
            await recovered([(ada, bob)], ana, ben)
        recovered_in = time.monotonic() - killed_at
        # no acknowledged message lost, across the masters
        await all_reach(bob, acknowledged, timeout=RECOVERY_BOUND)

        await resynced(ben, since)
        after = ben.messages[since:]
        assert not [m for m in after if m['type'] in ('moved', 'room_closed')]
        assert any(m.get('resync') for m in bob.received if m['type'] == 'history')
    print(
        f'\nSentinel: replica promoted {promoted_in:.1f} s after the kill; chat and '
        f'moves crossed the masters again {recovered_in:.1f} s after it; '
        f'{len(acknowledged)} messages acknowledged meanwhile, all delivered'
    )
    assert recovered_in < RECOVERY_BOUND


def rooms_on_every_shard(cluster: RedisCluster, prefix: str) -> list[str]:
    """Room names whose group channels (``aiotao:`` + group) land on every master."""
    wanted = {node.port for node in cluster.masters()}
    rooms: dict[int, str] = {}
    n = 0
    while set(rooms) != wanted:
        n += 1
        room = f'room{n}'
        rooms.setdefault(cluster.master_of(f'aiotao:{prefix}{room}').port, room)
    return [rooms[port] for port in sorted(rooms)]


@pytest.mark.timeout(180)
async def test_cluster_failover_under_chat_and_game(
    gunicorn: ServerFactory,
    tmp_path: Path,
    mongo_uri: str,
    redis_cluster: RedisCluster,
) -> None:
    settings = {
        'mongo.uri': mongo_uri,
        'aiotao.broadcast': redis_cluster.url,
        **SETTINGS,
    }
    one = serve(gunicorn, tmp_path, 'one', settings)
    two = serve(gunicorn, tmp_path, 'two', settings)
    async with AsyncExitStack() as stack:
        chats = [
            await stack.enter_async_context(chat_pair(one, two, room))
            for room in rooms_on_every_shard(redis_cluster, 'aiotao.chat:')
        ]
        for ada, bob in chats:  # both workers reach the broker
            await heard_across(ada, bob, 'hello')
        # game rooms opened until every shard carries some of their groups
        owners: list[TestPlayer] = []
        while True:
            player = await stack.enter_async_context(connect(game_url(one)))
            await player.join(name=f'p{len(owners)}', mode='create')
            owners.append(player)
            shards = redis_cluster.shard_channels()
            if all(
                any(channel.startswith('aiotao:aiotao.game.') for channel in channels)
                for channels in shards.values()
            ):
                break
            assert len(owners) < 30, shards
        for port, channels in shards.items():
            assert any(c.startswith('aiotao:aiotao.chat:') for c in channels), port

        # the relayed player: in the room of a game channel on the shard killed
        victim = redis_cluster.master_of(
            f'aiotao:aiotao.game.state.{owners[0].welcome["room"]}'
        )  # type: ignore[index]
        ana = owners[0]
        ben = await stack.enter_async_context(connect(game_url(two)))
        await ben.join(name='ben', room=ana.welcome['room'])  # type: ignore[index]
        await recovered(chats, ana, ben)

        killed_at = time.monotonic()
        killed = redis_cluster.kill_master(victim.port)
        since = len(ben.messages)
        failover = asyncio.ensure_future(
            asyncio.to_thread(redis_cluster.wait_for_failover, killed)
        )
        ada, bob = next(
            pair
            for pair in chats
            if redis_cluster.master_of(
                f'aiotao:aiotao.chat:{pair[0].url.rsplit("/", 1)[1]}'
            )
            is victim
        )
        acknowledged = await chat_during(ada, failover)
        failed_over_in = await failover
        async with asyncio.timeout(RECOVERY_BOUND):
            await recovered(chats, ana, ben)
        recovered_in = time.monotonic() - killed_at
        await all_reach(bob, acknowledged, timeout=RECOVERY_BOUND)

        await resynced(ben, since)
        after = ben.messages[since:]
        assert not [m for m in after if m['type'] in ('moved', 'room_closed')]
        # the killed shard's channels now live on its replica, promoted
        shards = redis_cluster.shard_channels()
        assert killed.port not in shards and len(shards) == 3
        for channels in shards.values():
            assert any(c.startswith('aiotao:aiotao.chat:') for c in channels)
    print(
        f'\nCluster: replica took over {failed_over_in:.1f} s after the kill; chat '
        f'in {len(chats)} rooms and moves crossed the masters again '
        f'{recovered_in:.1f} s after it; {len(acknowledged)} messages acknowledged '
        f'meanwhile, all delivered'
    )
    assert recovered_in < RECOVERY_BOUND
