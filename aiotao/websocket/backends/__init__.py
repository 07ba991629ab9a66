"""Backends that carry group broadcasts between processes: ``aiotao.broadcast``.

With one gunicorn worker the default does; with several workers, or
several machines, members of a group are spread over processes and a
broker carries each broadcast to all of them::

    [app:main]
    aiotao.broadcast = redis://127.0.0.1:6379/0     # Redis pub/sub
    # aiotao.broadcast = redis+sentinel://s1:26379,s2:26379/mymaster/0
    # aiotao.broadcast = redis+cluster://n1:6379,n2:6379   # sharded pub/sub
    # aiotao.broadcast = mongodb                    # change streams on mongo.uri
    # aiotao.broadcast = memory                     # one process (default)
    # aiotao.broadcast = myapp.broadcast.make       # your own: make(settings)

The modules, by concern:

* :mod:`~aiotao.websocket.backends.interface`: the contract with
  :class:`~aiotao.websocket.groups.Groups`;
* :mod:`~aiotao.websocket.backends.settings`: the ``aiotao.broadcast*``
  settings, checked when the application starts;
* :mod:`~aiotao.websocket.backends.memory`: one process;
* :mod:`~aiotao.websocket.backends.broker`: what a broker-backed backend
  does when the broker comes and goes (read it: the delivery guarantees
  are there);
* :mod:`~aiotao.websocket.backends.redis` and
  :mod:`~aiotao.websocket.backends.mongodb`: the brokers;
* :mod:`~aiotao.websocket.backends.redis_urls`,
  :mod:`~aiotao.websocket.backends.redis_clients` and
  :mod:`~aiotao.websocket.backends.redis_channels`: Redis as one server,
  Sentinel or Cluster (its URLs, its clients, classic or sharded pub/sub);
* :mod:`~aiotao.websocket.backends.wire`,
  :mod:`~aiotao.websocket.backends.backoff`: plain logic they use.

Backends connect lazily, on the loop of the process that serves (gunicorn
forks its workers after loading the application).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyramid.exceptions import ConfigurationError
from pyramid.registry import Registry

from aiotao.websocket.backends.interface import Deliver, GroupBackend
from aiotao.websocket.backends.memory import InMemoryBackend
from aiotao.websocket.backends.settings import SETTING, BroadcastSettings, read_settings

__all__ = [
    'SETTING',
    'BroadcastSettings',
    'Deliver',
    'GroupBackend',
    'InMemoryBackend',
    'backend_from_settings',
    'read_settings',
]

_METHODS = ('start', 'subscribe', 'unsubscribe', 'publish', 'close')


def backend_from_settings(
    settings: Mapping[str, Any] | None, registry: Registry | None = None
) -> GroupBackend:
    """The backend ``aiotao.broadcast`` names (in-memory by default).

    ``registry`` lends the ``mongodb`` backend the application's MongoDB
    client; without it (or without ``aiotao.mongo`` included) the backend
    makes one of its own from ``mongo.uri``.

    >>> type(backend_from_settings({'aiotao.broadcast': 'memory'})).__name__
    'InMemoryBackend'
    """
    broadcast = read_settings(settings)
    if broadcast.kind == 'redis':
        from aiotao.websocket.backends.redis import RedisBackend

        return RedisBackend(broadcast)
    if broadcast.kind == 'mongodb':
        return _mongodb_backend(broadcast, settings or {}, registry)
    if broadcast.kind == 'factory':
        assert broadcast.factory is not None
        return _checked(broadcast.factory(settings or {}))
    return InMemoryBackend(settings)


def _mongodb_backend(
    broadcast: BroadcastSettings, settings: Mapping[str, Any], registry: Registry | None
) -> GroupBackend:
    from aiotao.interfaces import IMongoConnection
    from aiotao.mongo.connection import MongoConnection
    from aiotao.mongo.settings import read_settings as read_mongo_settings
    from aiotao.websocket.backends.mongodb import MongoDBBackend

    connection = registry.queryUtility(IMongoConnection) if registry else None
    if connection is not None:
        return MongoDBBackend(broadcast, connection)
    own = MongoConnection(read_mongo_settings(settings))
    return MongoDBBackend(broadcast, own, owns_connection=True)


def _checked(backend: Any) -> GroupBackend:
    for method in _METHODS:
        if not callable(getattr(backend, method, None)):
            raise ConfigurationError(
                f'{SETTING}: {backend!r} has no {method}() method, so it is not '
                f'a group backend (see aiotao.websocket.backends.interface.GroupBackend)'
            )
    return backend  # type: ignore[no-any-return]
