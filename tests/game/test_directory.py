"""The room directory: in memory, and shared through a real Redis or MongoDB."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from pymongo import AsyncMongoClient

from aiotao.game.directory import (
    MemoryDirectory,
    MongoDirectory,
    RedisDirectory,
    RoomDirectory,
    RoomInfo,
)
from tests.harness.redis import RedisServer


@pytest.fixture(params=['memory', 'redis', 'mongodb'])
async def directory(
    request: pytest.FixtureRequest, tmp_path: object
) -> AsyncIterator[RoomDirectory]:
    if request.param == 'memory':
        yield MemoryDirectory()
        return
    if request.param == 'mongodb':
        uri: str = request.getfixturevalue('mongo_uri')
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(uri)
        try:
            yield MongoDirectory(lambda: client.get_default_database())
        finally:
            await client.close()
        return
    server: RedisServer = request.getfixturevalue('redis_server')
    redis_directory = RedisDirectory(server.url)
    yield redis_directory
    await redis_directory.close()


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
