"""The names of signed-in users, in memory, Redis and MongoDB (``aiotao.chat.presence``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pymongo
import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError
from zope.interface.verify import verifyObject

from aiotao.chat import get_chat_presence
from aiotao.chat.settings import chat_settings
from aiotao.chat.signed_in import (
    MemorySignedInNames,
    RedisSignedInNames,
    SignedInNames,
    SignedInNamesStore,
    get_signed_in_names,
)
from aiotao.interfaces import IChatPresence, ISignedInNames
from tests.harness.redis import RedisServer, redis_server

__all__ = ['redis_server']

#: ``await make()`` -> a store; two made by one factory share their names
#: (two workers of one application), except in memory.
Factory = Callable[[], SignedInNamesStore]


@pytest.fixture(params=['memory', 'redis', 'mongodb'])
async def stores(request: pytest.FixtureRequest) -> AsyncIterator[Factory]:
    made: list[SignedInNamesStore] = []
    clients: list[Any] = []
    if request.param == 'memory':
        shared = MemorySignedInNames()

        def make() -> SignedInNamesStore:
            return shared

    elif request.param == 'redis':
        server: RedisServer = request.getfixturevalue('redis_server')

        def make() -> SignedInNamesStore:
            store = RedisSignedInNames(server.url)
            made.append(store)
            return store

    else:
        uri: str = request.getfixturevalue('mongo_uri')

        def make() -> SignedInNamesStore:
            client: Any = pymongo.AsyncMongoClient(uri)
            clients.append(client)
            database = client.get_default_database()
            return SignedInNames(lambda: database)

    yield make
    for store in made:
        await store.close()
    for client in clients:
        await client.close()


async def test_the_first_claim_keeps_the_name_everywhere(stores: Factory) -> None:
    one, other = stores(), stores()
    assert verifyObject(ISignedInNames, one)
    assert await one.holder('ada') is None
    await one.claim('ada', userid='ada')
    await other.claim('Ada', userid='eve')  # taken: ada keeps it
    assert await other.holder('ada') == 'ada'
    assert await one.holder('ADA') == 'ada'


async def test_a_look_alike_has_the_same_holder(stores: Factory) -> None:
    store = stores()
    await store.claim('bob', userid='u1')
    assert await stores().holder('B0B') == 'u1'  # 0 looks like o
    assert await store.holder('carol') is None


def configured(**settings: str) -> Configurator:
    config = Configurator(
        settings={'mongo.uri': 'mongodb://127.0.0.1:1/chat', **settings}
    )
    config.include('aiotao')
    config.include('aiotao.chat')
    config.commit()
    return config


@pytest.mark.parametrize(
    ('value', 'kind'),
    [
        (None, SignedInNames),
        ('memory', MemorySignedInNames),
        ('redis://127.0.0.1:1/0', RedisSignedInNames),
    ],
)
def test_the_setting_chooses_where_the_chats_presence_keeps_names(
    value: str | None, kind: type
) -> None:
    settings = {} if value is None else {'aiotao.chat.presence': value}
    registry = configured(**settings).registry
    assert isinstance(get_signed_in_names(registry), kind)
    presence = get_chat_presence(registry)
    assert verifyObject(IChatPresence, presence)
    assert presence.signed_in is get_signed_in_names(registry)


def test_a_bad_presence_setting_stops_the_start() -> None:
    with pytest.raises(ConfigurationError, match=r'aiotao\.chat\.presence'):
        chat_settings({'aiotao.chat.presence': 'postgres'})
