"""The MongoDB cache backend: one cache shared by every worker and machine.

``cache.backend = mongo`` keeps entries in a collection of the application's
database (``cache.collection``, default ``aiotao_cache``), one document per
key::

    {'_id': 'page|[[],{"id":"3"}]|…', 'name': 'page', 'args': '[[],{"id":"3"}]',
     'value': …, 'expires': datetime}

A TTL index on ``expires`` lets the server delete expired documents (it
sweeps about once a minute); reads ignore an expired document that is still
there, so an entry lives exactly ``expire`` seconds.

Values are stored as BSON, not pickled: a shared store must not let whoever
can write to it run code in the workers.  So a cached value must be
BSON-encodable (what a JSON renderer takes, plus ``bytes`` and
``datetime``), and comes back as BSON decodes it: tuples become lists.
Responses are stored as status, headers and body.  Another value is a
:class:`TypeError` that names the cache.
"""

from __future__ import annotations

import datetime
from typing import Any

from bson.errors import InvalidDocument
from pymongo import ASCENDING
from pyramid.registry import Registry

from aiotao.cache.backend import Hit
from aiotao.cache.keys import CacheKey
from aiotao.cache.responses import FrozenResponse
from aiotao.mongo import get_database

DEFAULT_COLLECTION = 'aiotao_cache'


class MongoBackend:
    def __init__(
        self, registry: Registry, collection: str = DEFAULT_COLLECTION
    ) -> None:
        self.registry = registry
        self.collection_name = collection
        self._indexed_clients: set[int] = set()

    async def _collection(self) -> Any:
        database = get_database(self.registry)
        collection = database[self.collection_name]
        client_id = id(database.client)
        if client_id not in self._indexed_clients:
            # Once per client (per process and loop): cheap when it exists.
            await collection.create_index(
                [('expires', ASCENDING)], expireAfterSeconds=0
            )
            await collection.create_index([('name', ASCENDING), ('args', ASCENDING)])
            self._indexed_clients.add(client_id)
        return collection

    async def get(self, key: CacheKey) -> Hit | None:
        collection = await self._collection()
        document = await collection.find_one(
            {'_id': key.id, '$or': [{'expires': None}, {'expires': {'$gt': _now()}}]}
        )
        if document is None:
            return None
        return Hit(_decode(document['value']))

    async def set(self, key: CacheKey, value: Any, expire: float | None) -> None:
        collection = await self._collection()
        expires = (
            None if expire is None else _now() + datetime.timedelta(seconds=expire)
        )
        document = {
            'name': key.name,
            'args': key.args,
            'value': _encode(value),
            'expires': expires,
        }
        try:
            await collection.replace_one({'_id': key.id}, document, upsert=True)
        except InvalidDocument as exc:
            raise TypeError(
                f'@cache({key.name!r}) with cache.backend = mongo stores BSON '
                f'values (dicts with str keys, lists, str, numbers, bool, None, '
                f'bytes, datetime); this value is not one: {exc}'
            ) from None

    async def invalidate(self, name: str, args: str | None) -> int:
        collection = await self._collection()
        query = {'name': name} if args is None else {'name': name, 'args': args}
        result = await collection.delete_many(query)
        return int(result.deleted_count)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _encode(value: Any) -> dict[str, Any]:
    if isinstance(value, FrozenResponse):
        return {
            'response': {
                'status': value.status,
                'headers': [list(pair) for pair in value.headerlist],
                'body': value.body,
            }
        }
    return {'value': value}


def _decode(stored: dict[str, Any]) -> Any:
    if 'response' in stored:
        response = stored['response']
        return FrozenResponse(
            status=response['status'],
            headerlist=tuple((name, header) for name, header in response['headers']),
            body=bytes(response['body']),
        )
    return stored['value']
