"""``request.db``: MongoDB through PyMongo's native async client.

Included by ``config.include('aiotao.mongo')``, and by ``aiotao`` itself when
``mongo.uri`` is set::

    [app:main]
    pyramid.includes = aiotao
    mongo.uri = mongodb://127.0.0.1:27017/shop
    mongo.option.maxPoolSize = 50

    @view_config(route_name='product', renderer='json')
    async def product(request):
        return await request.db.products.find_one(
            {'slug': request.matchdict['slug']}, {'_id': 0}
        )

Each worker process makes one client, lazily, on the loop that serves it,
and closes it at shutdown (:mod:`aiotao.mongo.connection`).  Settings are in
:mod:`aiotao.mongo.settings`; a bad one stops the start with a
``ConfigurationError`` naming it.  When the server cannot be reached,
requests that use the database get a 503 and a line in the log, every other
view keeps answering, and the driver reconnects by itself
(:mod:`aiotao.mongo.unavailable`).

``request.mongo_client`` is the client, for sessions and transactions::

    async with request.mongo_client.start_session() as session:
        async with await session.start_transaction():
            ...
"""

from __future__ import annotations

from typing import Any

from pymongo.errors import ConnectionFailure
from pyramid.config import Configurator

from aiotao.lifecycle import ServerStarted, ServerStopping, add_lifecycle_subscriber
from aiotao.mongo.connection import (
    IMongoConnection,
    MongoConnection,
    get_client,
    get_database,
)
from aiotao.mongo.lifecycle import on_server_started, on_server_stopping
from aiotao.mongo.settings import MongoSettings, read_settings
from aiotao.mongo.unavailable import database_unavailable
from aiotao.services import CONNECTIONS, register_service

#: Pyramid runs configuration actions by ascending order; 0 is the default.
CLOSE_LAST = 1000

__all__ = [
    'MongoConnection',
    'MongoSettings',
    'get_client',
    'get_database',
    'includeme',
]


def request_db(request: Any) -> Any:
    """``request.db``: the configured database on this process's client."""
    return get_database(request.registry)


def request_mongo_client(request: Any) -> Any:
    """``request.mongo_client``: this process's client."""
    return get_client(request.registry)


def includeme(config: Configurator) -> None:
    """Configure ``request.db`` from the ``mongo.*`` settings."""
    registry = config.registry
    settings = read_settings(registry.settings or {})
    register_service(
        config,
        IMongoConnection,
        lambda registry: MongoConnection(settings),
        title=f'MongoDB connection ({settings.display_uri})',
        include='aiotao.mongo',
        order=CONNECTIONS,
    )
    config.add_request_method(request_db, 'db', reify=True)
    config.add_request_method(request_mongo_client, 'mongo_client', reify=True)
    config.add_exception_view(database_unavailable, context=ConnectionFailure)
    add_lifecycle_subscriber(config, on_server_started, ServerStarted)
    # The client must outlive every other ServerStopping subscriber, which
    # may still need the database (a scheduled task releasing its lease,
    # the application flushing something): registered after them all.
    add_lifecycle_subscriber(
        config, on_server_stopping, ServerStopping, order=CLOSE_LAST
    )
