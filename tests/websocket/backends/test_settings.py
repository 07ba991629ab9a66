"""``aiotao.broadcast``: every accepted form, and a clear error for the rest."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError
from pyramid.paster import get_app

from aiotao.mongo.connection import IMongoConnection
from aiotao.websocket.backends import InMemoryBackend, backend_from_settings
from aiotao.websocket.backends.mongodb import MongoDBBackend
from aiotao.websocket.backends.settings import read_settings
from aiotao.websocket.groups import get_groups

REDIS = 'redis://127.0.0.1:6379/0'
MONGO = {'mongo.uri': 'mongodb://127.0.0.1:27017/shop'}


def make_backend(**settings: str) -> object:
    return backend_from_settings(settings)


def test_default_is_one_process() -> None:
    assert read_settings({}).kind == 'memory'
    assert isinstance(backend_from_settings({}), InMemoryBackend)
    assert isinstance(make_backend(**{'aiotao.broadcast': 'Memory'}), InMemoryBackend)


@pytest.mark.parametrize(
    'url',
    [REDIS, 'redis://127.0.0.1:6379', 'rediss://user:pw@cache.example.com:6380/2'],
)
def test_redis_urls(url: str) -> None:
    from aiotao.websocket.backends.redis import RedisBackend

    backend = make_backend(**{'aiotao.broadcast': url})
    assert isinstance(backend, RedisBackend)
    assert backend.settings.url == url
    assert 'pw' not in backend.broker  # the password stays out of the logs


@pytest.mark.parametrize(
    ('url', 'kind', 'nodes', 'service', 'db'),
    [
        (
            'redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster/0',
            'sentinel',
            (('10.0.0.1', 26379), ('10.0.0.2', 26379)),
            'mymaster',
            0,
        ),
        ('redis+sentinel://s1,s2,s3/cache/3', 'sentinel',
         (('s1', 26379), ('s2', 26379), ('s3', 26379)), 'cache', 3),
        ('rediss+sentinel://:pw@s1:5000/cache', 'sentinel', (('s1', 5000),), 'cache', 0),
        ('redis+cluster://h1:7000,h2:7001,[::1]:7002', 'cluster',
         (('h1', 7000), ('h2', 7001), ('::1', 7002)), None, 0),
        ('redis+cluster://u:pw@h1', 'cluster', (('h1', 6379),), None, 0),
    ],
)  # fmt: skip
def test_sentinel_and_cluster_urls(
    url: str,
    kind: str,
    nodes: tuple[tuple[str, int], ...],
    service: str | None,
    db: int,
) -> None:
    from aiotao.websocket.backends.redis import RedisBackend

    backend = make_backend(**{'aiotao.broadcast': url})
    assert isinstance(backend, RedisBackend)
    topology = backend.topology
    assert (topology.kind, topology.nodes, topology.service, topology.db) == (
        kind,
        nodes,
        service,
        db,
    )
    assert topology.ssl == url.startswith('rediss')
    assert 'pw' not in backend.broker  # the password stays out of the logs
    if 'pw' in url:
        assert topology.password == 'pw'


def test_mongodb_uses_the_application_mongo_uri() -> None:
    backend = make_backend(**{'aiotao.broadcast': 'mongodb'}, **MONGO)
    assert isinstance(backend, MongoDBBackend)
    assert backend.connection.settings.database_name == 'shop'
    assert backend.settings.collection == 'aiotao_broadcast'


def test_options() -> None:
    parsed = read_settings(
        {
            'aiotao.broadcast': REDIS,
            'aiotao.broadcast.prefix': 'shop:',
            'aiotao.broadcast.collection': 'events',
            'aiotao.broadcast.collection_size': '1048576',
            'aiotao.broadcast.buffer': '50',
            'aiotao.broadcast.timeout': '0.5',
            'aiotao.broadcast.retry_max': '30',
        }
    )
    assert (
        parsed.prefix,
        parsed.collection,
        parsed.collection_size,
        parsed.buffer,
        parsed.timeout,
        parsed.retry_max,
    ) == ('shop:', 'events', 1048576, 50, 0.5, 30.0)


@pytest.mark.parametrize(
    ('settings', 'message'),
    [
        (
            {'aiotao.broadcast': 'redis://127.0.0.1:port/0'},
            r'aiotao\.broadcast = redis://127\.0\.0\.1:port/0 is not a valid Redis '
            r'URL: .*expected redis://host:port/db',
        ),
        (
            {'aiotao.broadcast': 'redis://127.0.0.1:6379/zero'},
            r"not a valid Redis URL: the database must be a number, not 'zero'",
        ),
        (
            {'aiotao.broadcast': 'redis:///0'},
            r'aiotao\.broadcast = redis:///0 is not a valid Redis URL: no host',
        ),
        (
            {'aiotao.broadcast': 'redis://u:s3cret@host:99999/0'},
            r'aiotao\.broadcast = redis://u:\*\*\*@host:99999/0 is not a valid',
        ),
        (
            {'aiotao.broadcast': 'http://127.0.0.1:6379'},
            r'http:// is not a Redis URL; .*takes memory, redis://host:port/db, '
            r'rediss://host:port/db, redis\+sentinel://host:26379,host:26379/service/db, '
            r'redis\+cluster://host:6379,host:6379, mongodb, or the dotted name',
        ),
        (
            {'aiotao.broadcast': 'redis+sentinel://h1:26379,h2:26379'},
            r'aiotao\.broadcast = redis\+sentinel://h1:26379,h2:26379: the service '
            r'.*is missing; expected redis\+sentinel://host:26379,host:26379/service/db',
        ),
        (
            {'aiotao.broadcast': 'redis+sentinel://h1:26379,h2:port/mymaster/0'},
            r"aiotao\.broadcast = .*: 'h2:port' is not host or host:port",
        ),
        (
            {'aiotao.broadcast': 'redis+sentinel://:pw@h1,/mymaster/0'},
            r"aiotao\.broadcast = redis\+sentinel://:\*\*\*@h1,/mymaster/0: '' is "
            r'not host or host:port',
        ),
        (
            {'aiotao.broadcast': 'redis+sentinel://h1/mymaster/zero'},
            r"the database must be a number, not 'zero'",
        ),
        (
            {'aiotao.broadcast': 'redis+cluster://h1:7000,h2:7001/3'},
            r'aiotao\.broadcast = redis\+cluster://h1:7000,h2:7001/3: a Redis Cluster '
            r'has database 0 only; expected redis\+cluster://host:6379,host:6379',
        ),
        (
            {'aiotao.broadcast': 'redis+cluster://h1:70000'},
            r'port 70000 is out of range',
        ),
        (
            {'aiotao.broadcast': 'redis+sentinal://h1/mymaster'},
            r'redis\+sentinal:// is not a Redis URL; expected redis://host:port/db',
        ),
        (
            {'aiotao.broadcast': 'mongodb'},
            r'aiotao\.broadcast = mongodb uses the application\'s MongoDB, but '
            r'mongo\.uri is not set',
        ),
        (
            {'aiotao.broadcast': 'mongodb', 'mongo.uri': 'mongodb://h:x/db'},
            r'mongo\.uri = mongodb://h:x/db is not valid',
        ),
        (
            {'aiotao.broadcast': 'rabbitmq'},
            r'aiotao\.broadcast = rabbitmq: not a known backend and cannot be '
            r'imported as a dotted name .*expected memory, redis://',
        ),
        (
            {'aiotao.broadcast': 'os.sep'},
            r'aiotao\.broadcast = os\.sep is not callable',
        ),
        (
            {'aiotao.broadcast.buffer': '0'},
            r"aiotao\.broadcast\.buffer = '0': expected a whole number of at least 1",
        ),
        (
            {'aiotao.broadcast.timeout': 'soon'},
            r"aiotao\.broadcast\.timeout = 'soon': expected a number of seconds",
        ),
        (
            {'aiotao.broadcast.prefix': ' '},
            r'aiotao\.broadcast\.prefix is empty',
        ),
        (
            {'aiotao.websocket.groups_backend': 'myapp.Backend'},
            r'aiotao\.websocket\.groups_backend was renamed: set aiotao\.broadcast '
            r'= myapp\.Backend instead',
        ),
    ],
)
def test_bad_settings_name_the_setting(settings: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        read_settings(settings)


def test_redis_package_missing_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in [m for m in sys.modules if m == 'redis' or m.startswith('redis.')]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, 'redis', None)  # import redis -> ImportError
    with pytest.raises(
        ConfigurationError,
        match=r'aiotao\.broadcast = redis://127\.0\.0\.1:6379/0 needs the redis '
        r'package, which is not installed: pip install "aiotao\[redis\]"',
    ):
        read_settings({'aiotao.broadcast': REDIS})


def test_a_factory_must_make_a_backend() -> None:
    with pytest.raises(ConfigurationError, match=r'has no start\(\) method'):
        make_backend(**{'aiotao.broadcast': 'builtins.dict'})


def test_a_bad_setting_stops_the_application_at_start(tmp_path: Path) -> None:
    config = Configurator(settings={'aiotao.broadcast': 'redis://:6379'})
    with pytest.raises(ConfigurationError, match=r'aiotao\.broadcast = redis://:6379'):
        config.include('aiotao')
    ini = tmp_path / 'app.ini'
    ini.write_text(
        '[app:main]\nuse = call:tests.pkgs.broadcastapp:main\n'
        'aiotao.broadcast = mongodb\n'
    )
    with pytest.raises(ConfigurationError, match=r'mongo\.uri is not set'):
        get_app(str(ini))


def test_parsing_connects_to_nothing() -> None:
    # nothing listens on port 1: parsing must not notice
    backend = make_backend(**{'aiotao.broadcast': 'redis://127.0.0.1:1/0'})
    assert not backend.connected  # type: ignore[attr-defined]


def test_mongodb_shares_the_application_client() -> None:
    config = Configurator(settings={'aiotao.broadcast': 'mongodb', **MONGO})
    config.include('aiotao')
    config.commit()
    backend = get_groups(config.registry).backend
    # one client per process, for request.db and broadcasts alike
    assert isinstance(backend, MongoDBBackend)
    assert backend.connection is config.registry.getUtility(IMongoConnection)


@pytest.mark.parametrize(
    'url',
    [
        'rediss://:pw@h1:6380/2',
        'rediss+sentinel://:pw@s1,s2/cache/1',
        'redis+sentinel://s1/cache',
        'redis://h1',
    ],
)
def test_clients_for_each_url_make_their_connections(url: str) -> None:
    """The client's connection takes the URL's credentials, TLS and database (not connected)."""
    from aiotao.websocket.backends.redis_clients import RedisClient

    topology = read_settings({'aiotao.broadcast': url}).topology
    assert topology is not None
    client = RedisClient(topology, timeout=1)
    connection = client.client.connection_pool.make_connection()  # type: ignore[union-attr]
    assert connection.password == topology.password
    assert connection.db == topology.db
    assert ('SSL' in type(connection).__name__) == topology.ssl
