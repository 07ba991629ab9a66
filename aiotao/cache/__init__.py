"""``@cache(name, expire=seconds)``: cache coroutine views and functions.

::

    from aiotao.cache import cache

    @view_config(route_name='home', renderer='home.jinja2')
    @cache('home', expire=5)
    async def home(request):
        ...

    await cache.invalidate('home')

Choose the backend in the ini and include ``aiotao.cache``::

    pyramid.includes = aiotao aiotao.cache
    cache.backend = mongo          # memory (default) or mongo
    cache.max_entries = 10000      # memory: entries per process
    cache.collection = aiotao_cache  # mongo: the collection

``memory`` (:mod:`aiotao.cache.memory`) is per process and bounded;
``mongo`` (:mod:`aiotao.cache.mongo`) is one cache for every worker, on the
application's ``mongo.uri``.  ``config.include('aiotao')`` includes it.
The backend is a service (:mod:`aiotao.services`): registered when the
configuration is committed, listed by the introspector.
"""

from __future__ import annotations

from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

from aiotao.cache.backend import CacheBackend, Hit, ICacheBackend, backend_for
from aiotao.cache.decorator import Cache, cache
from aiotao.cache.keys import CacheKey
from aiotao.cache.memory import DEFAULT_MAX_ENTRIES, MemoryBackend
from aiotao.services import register_service

__all__ = [
    'Cache',
    'CacheBackend',
    'CacheKey',
    'Hit',
    'MemoryBackend',
    'backend_for',
    'cache',
    'includeme',
]


def includeme(config: Configurator) -> None:
    """Register the backend that ``cache.backend`` names."""
    settings = config.registry.settings or {}
    kind = str(settings.get('cache.backend') or 'memory').strip().lower()
    backend: CacheBackend
    if kind == 'memory':
        backend = MemoryBackend(_max_entries(settings.get('cache.max_entries')))
    elif kind == 'mongo':
        if not settings.get('mongo.uri'):
            raise ConfigurationError(
                'cache.backend = mongo stores the cache in MongoDB: set mongo.uri'
            )
        config.include('aiotao.mongo')
        from aiotao.cache.mongo import DEFAULT_COLLECTION, MongoBackend

        collection = str(settings.get('cache.collection') or DEFAULT_COLLECTION).strip()
        backend = MongoBackend(config.registry, collection)
    else:
        raise ConfigurationError(
            f'cache.backend = {kind} is not a cache backend: use memory or mongo'
        )
    register_service(
        config,
        ICacheBackend,
        lambda registry: backend,
        title=f'cache backend ({kind})',
        include='aiotao.cache',
    )


def _max_entries(value: object) -> int:
    if value is None or str(value).strip() == '':
        return DEFAULT_MAX_ENTRIES
    try:
        count = int(str(value))
    except ValueError:
        count = 0
    if count < 1:
        raise ConfigurationError(
            f'cache.max_entries = {value} must be a whole number of entries, at least 1'
        )
    return count
