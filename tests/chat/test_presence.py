"""Presence across workers: entries in MongoDB, a heartbeat, sweeping dead workers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from aiotao.chat.presence import PRESENCE_COLLECTION, Presence


@pytest.fixture
async def database(mongo_uri: str) -> AsyncIterator[Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri)
    try:
        yield client.get_default_database()
    finally:
        await client.close()


def dead_worker_entry(mongo_db: Any, room: str, nick: str, age: float) -> None:
    """What a kill -9'd worker leaves behind: an entry nobody renews."""
    mongo_db[PRESENCE_COLLECTION].insert_one(
        {
            '_id': f'dead-{nick}',
            'room': room,
            'nick': nick,
            'worker': 'elsewhere:1',
            'seen': datetime.now(UTC) - timedelta(seconds=age),
        }
    )


async def test_members_are_shared_by_every_worker(database: Any) -> None:
    # two Presence objects stand for two worker processes
    one = Presence(lambda: database, ttl=30)
    two = Presence(lambda: database, ttl=30)
    ada = await one.enter('lobby', 'ada')
    await two.enter('lobby', 'bob')
    await two.enter('lobby', 'ada')  # a second tab: listed once
    await one.enter('kitchen', 'cy')
    assert await one.members('lobby') == ['ada', 'bob']
    assert await two.members('lobby') == ['ada', 'bob']
    assert await one.leave(ada) is True
    assert await two.members('lobby') == ['ada', 'bob']
    assert await one.leave(ada) is False  # gone already
    await one.close()
    await two.close()
    assert await Presence(lambda: database, ttl=30).members('lobby') == []


async def test_stale_entries_are_not_members_and_are_swept_once(
    database: Any, mongo_db: Any
) -> None:
    dead_worker_entry(mongo_db, 'lobby', 'ghost', age=10)
    dead_worker_entry(mongo_db, 'lobby', 'recent', age=0)
    one = Presence(lambda: database, ttl=5)
    two = Presence(lambda: database, ttl=5)
    assert await one.members('lobby') == ['recent']
    swept = await asyncio.gather(one.sweep(), two.sweep())
    # whichever worker swept it, it was announced once
    assert sorted(swept[0] + swept[1]) == [('lobby', 'ghost')]
    assert mongo_db[PRESENCE_COLLECTION].count_documents({'nick': 'ghost'}) == 0
    assert mongo_db[PRESENCE_COLLECTION].count_documents({'nick': 'recent'}) == 1


async def test_the_heartbeat_keeps_live_members_and_sweeps_dead_ones(
    database: Any, mongo_db: Any
) -> None:
    expired: list[tuple[str, str]] = []

    async def on_expired(room: str, nick: str) -> None:
        expired.append((room, nick))

    presence = Presence(lambda: database, ttl=0.6, on_expired=on_expired)
    await presence.enter('lobby', 'alive')
    dead_worker_entry(mongo_db, 'lobby', 'ghost', age=0)
    try:
        # several TTLs: the live entry is renewed, the dead one expires
        await asyncio.sleep(1.5)
        assert expired == [('lobby', 'ghost')]
        assert await presence.members('lobby') == ['alive']
    finally:
        await presence.close()
    assert mongo_db[PRESENCE_COLLECTION].count_documents({}) == 0


async def test_rename(database: Any) -> None:
    presence = Presence(lambda: database, ttl=30)
    entry = await presence.enter('lobby', 'guest-1234')
    await presence.rename(entry, 'ada')
    assert await presence.members('lobby') == ['ada']
    await presence.close()
