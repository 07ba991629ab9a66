"""``config.include('aiotao.cache')`` registers the backend ``cache.backend`` names."""

from __future__ import annotations

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

from aiotao.cache import MemoryBackend, backend_for
from aiotao.cache.mongo import MongoBackend


def configure(**settings: str) -> Configurator:
    config = Configurator(settings=settings)
    config.include('aiotao')
    config.include('aiotao.cache')
    config.commit()  # the backend is registered by an action
    return config


def test_memory_is_the_default_and_bounded_by_cache_max_entries() -> None:
    backend = backend_for(configure(**{'cache.max_entries': '50'}).registry)
    assert isinstance(backend, MemoryBackend)
    assert backend.max_entries == 50


def test_mongo_backend_uses_the_apps_database() -> None:
    config = configure(
        **{
            'cache.backend': 'mongo',
            'cache.collection': 'page_cache',
            'mongo.uri': 'mongodb://127.0.0.1/shop',
        }
    )
    backend = backend_for(config.registry)
    assert isinstance(backend, MongoBackend)
    assert backend.collection_name == 'page_cache'


@pytest.mark.parametrize(
    ('settings', 'message'),
    [
        ({'cache.backend': 'redis'}, 'cache.backend = redis is not a cache backend'),
        ({'cache.backend': 'mongo'}, 'cache.backend = mongo .*set mongo.uri'),
        ({'cache.max_entries': 'lots'}, 'cache.max_entries = lots must be'),
        ({'cache.max_entries': '0'}, 'cache.max_entries = 0 must be'),
    ],
)
def test_bad_settings_name_the_setting(settings: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        configure(**settings)
