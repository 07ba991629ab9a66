"""Chat history in MongoDB: stored before acknowledged, the last N in order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bson import ObjectId
from pymongo import AsyncMongoClient

from aiotao.chat.history import MESSAGES_COLLECTION, ChatHistory


@pytest.fixture
async def database(mongo_uri: str) -> AsyncIterator[Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri)
    try:
        yield client.get_default_database()
    finally:
        await client.close()


async def test_a_stored_message_is_in_the_database_when_store_returns(
    database: Any, mongo_db: Any
) -> None:
    history = ChatHistory(lambda: database)
    stored = await history.store('lobby', 'ada', 'hello')
    # read back through another client: the write was acknowledged
    document = mongo_db[MESSAGES_COLLECTION].find_one({'_id': ObjectId(stored.id)})
    assert document is not None
    assert (document['room'], document['nick'], document['text']) == (
        'lobby',
        'ada',
        'hello',
    )
    assert abs(datetime.now(UTC) - stored.at) < timedelta(seconds=5)
    assert document['at'].replace(tzinfo=UTC) == stored.at


async def test_recent_is_the_last_n_of_the_room_oldest_first(database: Any) -> None:
    history = ChatHistory(lambda: database, size=3)
    sent = [await history.store('lobby', 'ada', f'message {n}') for n in range(5)]
    await history.store('kitchen', 'bob', 'elsewhere')
    recent = await history.recent('lobby')
    assert [message.text for message in recent] == [
        'message 2',
        'message 3',
        'message 4',
    ]
    assert recent == sent[2:]
    assert [m.text for m in await history.recent('lobby', limit=10)] == [
        f'message {n}' for n in range(5)
    ]
    assert await history.recent('lobby', limit=0) == []
    assert await history.recent('empty') == []


async def test_messages_of_the_same_millisecond_keep_their_order(
    database: Any, mongo_db: Any
) -> None:
    # stored by several workers at once: same time, ordered by _id
    at = datetime(2026, 1, 1, tzinfo=UTC)
    ids = [ObjectId() for _ in range(4)]
    mongo_db[MESSAGES_COLLECTION].insert_many(
        [
            {'_id': i, 'room': 'r', 'nick': 'n', 'text': str(n), 'at': at}
            for n, i in enumerate(ids)
        ]
    )
    recent = await ChatHistory(lambda: database).recent('r')
    assert [m.id for m in recent] == [str(i) for i in ids]


async def test_the_room_index_exists(database: Any, mongo_db: Any) -> None:
    await ChatHistory(lambda: database).recent('lobby')
    keys = [
        list(index['key']) for index in mongo_db[MESSAGES_COLLECTION].list_indexes()
    ]
    assert ['room', 'at', '_id'] in keys
