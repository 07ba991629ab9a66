"""The room directory: in memory, and shared through a real Redis or MongoDB."""

from __future__ import annotations

import asyncio

import pytest

from aiotao.game.directory import (
    RedisDirectory,
    RoomDirectory,
    RoomInfo,
)
from tests.harness.redis import RedisServer
from tests.harness.redis_cluster import RedisCluster, redis_cluster

__all__ = ['redis_cluster']


async def test_quick_match_picks_the_fullest_public_room_with_a_seat(
    directory: RoomDirectory,
) -> None:
    assert await directory.quick_match() is None
    await directory.publish(RoomInfo('a', 'w1', 2, 4), lease=10)
    await directory.publish(RoomInfo('b', 'w2', 3, 4), lease=10)
    await directory.publish(RoomInfo('c', 'w1', 4, 4), lease=10)  # full
    await directory.publish(RoomInfo('d', 'w1', 3, 4, code='K7QX2'), lease=10)
    match = await directory.quick_match()
    assert match is not None and match.id == 'b' and match.owner == 'w2'
    # refreshed with a new count: the match follows
    await directory.publish(RoomInfo('b', 'w2', 4, 4), lease=10)
    match = await directory.quick_match()
    assert match is not None and match.id == 'a'


async def test_private_rooms_are_found_by_code_and_removed(
    directory: RoomDirectory,
) -> None:
    room = RoomInfo('d', 'w1', 1, 4, code='K7QX2')
    await directory.publish(room, lease=10)
    assert await directory.by_code('K7QX2') == room
    assert await directory.get('d') == room
    assert await directory.by_code('NOPE1') is None
    await directory.remove(room)
    assert await directory.by_code('K7QX2') is None
    assert await directory.get('d') is None


async def test_quick_match_prefers_people_online_to_ghosts(
    directory: RoomDirectory,
) -> None:
    # 'ghosts': three seats waiting for reconnections, nobody online
    await directory.publish(RoomInfo('ghosts', 'w1', 3, 10, online=0), lease=10)
    await directory.publish(RoomInfo('live', 'w2', 2, 10, online=2, bots=3), lease=10)
    match = await directory.quick_match()
    assert match is not None and (match.id, match.bots) == ('live', 3)


async def test_one_successor_wins_however_many_claim(directory: RoomDirectory) -> None:
    assert await directory.successor('dead') is None
    claims = await asyncio.gather(
        *(directory.claim_successor('dead', f'new{n}', ttl=10) for n in range(5))
    )
    assert len(set(claims)) == 1
    assert await directory.successor('dead') == claims[0]
    assert await directory.successor('other') is None


async def test_an_entry_expires_with_its_lease(directory: RoomDirectory) -> None:
    await directory.publish(RoomInfo('a', 'gone-worker', 1, 4), lease=0.2)
    assert await directory.get('a') is not None
    await asyncio.sleep(0.35)
    assert await directory.get('a') is None
    assert await directory.quick_match() is None


async def test_workers_share_the_redis_directory(redis_server: RedisServer) -> None:
    one, two = RedisDirectory(redis_server.url), RedisDirectory(redis_server.url)
    try:
        await one.publish(RoomInfo('a', 'w1', 1, 4), lease=10)
        assert await two.quick_match() == RoomInfo('a', 'w1', 1, 4)
    finally:
        await one.close()
        await two.close()


@pytest.mark.timeout(120)
async def test_the_directory_on_a_redis_cluster(redis_cluster: RedisCluster) -> None:
    """A room's keys on one shard, the rooms over every shard; a failover ridden out."""
    one, two = RedisDirectory(redis_cluster.url), RedisDirectory(redis_cluster.url)
    try:
        ids = [f'room{n}' for n in range(12)]
        for n, id in enumerate(ids):
            await one.publish(RoomInfo(id, 'w1', n % 4, 4, online=n % 4), lease=30)
        await one.publish(RoomInfo('private', 'w1', 1, 4, code='K7QX2'), lease=30)
        await one.claim_successor('room0', 'room1', ttl=30)
        owners = {redis_cluster.master_of(one.room_key(id)).port for id in ids}
        assert len(owners) == 3  # the rooms spread over the shards
        # the hash tag: a room's entry and its successor live together
        assert redis_cluster.master_of(
            one.room_key('room0')
        ) is redis_cluster.master_of('aiotao:game:{room0}:successor')
        match = await two.quick_match()  # reads every shard
        assert match is not None and match.online == 3
        found = await two.by_code('K7QX2')
        assert found is not None and found.id == 'private'
        assert await two.successor('room0') == 'room1'
        # removed by its owner alone: one shard's script, then the set and code
        await two.remove(RoomInfo('private', 'w2', 1, 4, code='K7QX2'))
        assert await one.by_code('K7QX2') is not None
        await one.remove(RoomInfo('private', 'w1', 1, 4, code='K7QX2'))
        assert await two.by_code('K7QX2') is None

        killed = redis_cluster.kill_master(
            redis_cluster.master_of(one.room_key('room3')).port
        )
        # published while its shard fails over: retried until the replica took over
        await one.publish(RoomInfo('room3', 'w1', 1, 4), lease=30)
        await asyncio.to_thread(redis_cluster.wait_for_failover, killed)
        assert await two.get('room3') == RoomInfo('room3', 'w1', 1, 4)
    finally:
        await one.close()
        await two.close()


async def test_checkpoints_are_kept_for_their_ttl_and_deleted(
    directory: RoomDirectory,
) -> None:
    assert await directory.load_checkpoint('r1') is None
    await directory.save_checkpoint('r1', '{"tick": 1}', ttl=10)
    await directory.save_checkpoint('r1', '{"tick": 2}', ttl=10)  # the last one
    await directory.save_checkpoint('r2', '{"tick": 9}', ttl=0.2)
    assert await directory.load_checkpoint('r1') == '{"tick": 2}'
    await asyncio.sleep(0.4)
    assert await directory.load_checkpoint('r2') is None  # expired
    await directory.delete_checkpoint('r1')
    assert await directory.load_checkpoint('r1') is None


async def test_an_entry_is_removed_only_by_its_owner(directory: RoomDirectory) -> None:
    # the room was resumed by w2: w1 forgetting its own (dead) entry, late,
    # must not remove w2's
    await directory.publish(RoomInfo('r1', 'w2', 1, 4, code='K7QX2'), lease=10)
    await directory.remove(RoomInfo('r1', 'w1', 1, 4, code='K7QX2'))
    found = await directory.get('r1')
    assert found is not None and found.owner == 'w2'
    assert await directory.by_code('K7QX2') == found
    await directory.remove(RoomInfo('r1', 'w2', 1, 4, code='K7QX2'))
    assert await directory.get('r1') is None
    assert await directory.by_code('K7QX2') is None
