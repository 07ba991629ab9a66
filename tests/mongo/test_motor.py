"""Motor's client works through ``mongo.client_class``, for apps with Motor code."""

from __future__ import annotations

from typing import Any

from motor.motor_asyncio import AsyncIOMotorClient, AsyncIOMotorDatabase
from pyramid.config import Configurator

from aiotao import lifecycle, make_async_app
from aiotao.mongo import get_client
from tests.conftest import send


async def notes(request: Any) -> dict[str, Any]:
    assert isinstance(request.mongo_client, AsyncIOMotorClient)
    assert isinstance(request.db, AsyncIOMotorDatabase)
    await request.db.notes.insert_one({'text': request.params['text']})
    await request.db.notes.update_many({}, {'$set': {'seen': True}})
    found = await request.db.notes.find({'seen': True}, {'_id': 0}).to_list(None)
    counted = await request.db.notes.aggregate([{'$count': 'n'}]).to_list(None)
    return {'notes': found, 'count': counted[0]['n']}


async def test_motor_client_class_serves_request_db(mongo_uri: str) -> None:
    config = Configurator(
        settings={
            'mongo.uri': mongo_uri,
            'mongo.client_class': 'motor.motor_asyncio.AsyncIOMotorClient',
            'mongo.option.maxPoolSize': '5',
        }
    )
    config.include('aiotao')
    config.add_route('notes', '/notes')
    config.add_view(notes, route_name='notes', renderer='json')
    router = make_async_app(config)
    await lifecycle.start(router.registry)
    try:
        assert (await send(router, '/notes?text=a')).json == {
            'notes': [{'text': 'a', 'seen': True}],
            'count': 1,
        }
        response = await send(router, '/notes?text=b')
        assert response.json['count'] == 2
        client = get_client(router.registry)
        assert client.options.pool_options.max_pool_size == 5
    finally:
        await lifecycle.stop(router.registry)
    # closed at shutdown: the next use makes a fresh client
    fresh = get_client(router.registry)
    assert fresh is not client
    fresh.close()
