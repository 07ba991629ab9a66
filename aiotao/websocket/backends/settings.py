"""The ``aiotao.broadcast`` settings: which backend carries broadcasts between processes.

====================================  =========================================
setting                               meaning
====================================  =========================================
``aiotao.broadcast``                  ``memory`` (default: one process),
                                      ``redis://host:port/db`` or
                                      ``rediss://…`` (Redis pub/sub),
                                      ``redis+sentinel://h1:26379,h2/service/db``
                                      (the master Sentinel names),
                                      ``redis+cluster://h1:6379,h2:6379``
                                      (Redis Cluster, sharded pub/sub),
                                      ``mongodb`` (change streams on the
                                      application's ``mongo.uri``), or the
                                      dotted name of a backend factory
``aiotao.broadcast.prefix``           Redis channel prefix, so that several
                                      applications share one Redis (default
                                      ``aiotao:``; the channel is prefix+group)
``aiotao.broadcast.collection``       MongoDB capped collection (default
                                      ``aiotao_broadcast``)
``aiotao.broadcast.collection_size``  its size in bytes when aiotao creates
                                      it (default 16 MiB)
``aiotao.broadcast.buffer``           broadcasts waiting to go out to the
                                      broker before more are dropped
                                      (default 1000)
``aiotao.broadcast.timeout``          seconds a broker operation may take
                                      before the broker counts as down
                                      (default 5)
``aiotao.broadcast.retry_max``        longest wait, in seconds, between two
                                      reconnection attempts (default 5)
====================================  =========================================

Everything is checked when the application starts, without connecting::

    >>> read_settings({'aiotao.broadcast': 'redis://127.0.0.1:6379/0'}).kind
    'redis'
    >>> read_settings({'aiotao.broadcast': 'redis://127.0.0.1:port/0'})
    Traceback (most recent call last):
    ...
    pyramid.exceptions.ConfigurationError: aiotao.broadcast = redis://127.0.0.1:port/0 is not a valid Redis URL: Port could not be cast to integer value as 'port'; expected redis://host:port/db or rediss://host:port/db
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from pyramid.exceptions import ConfigurationError
from pyramid.path import DottedNameResolver

from aiotao.settings import number, read_setting, whole_number
from aiotao.websocket.backends.redis_urls import (
    SCHEMES,
    RedisTopology,
    display_url,
    parse_redis_url,
)

__all__ = ['SETTING', 'BroadcastSettings', 'read_settings']

SETTING = 'aiotao.broadcast'
_OLD_SETTING = 'aiotao.websocket.groups_backend'

_ACCEPTED = (
    'memory, redis://host:port/db, rediss://host:port/db, '
    'redis+sentinel://host:26379,host:26379/service/db, '
    'redis+cluster://host:6379,host:6379, mongodb, or the '
    'dotted name of a backend factory'
)

Kind = Literal['memory', 'redis', 'mongodb', 'factory']


@dataclass(frozen=True)
class BroadcastSettings:
    """What the ``aiotao.broadcast*`` settings say, validated."""

    kind: Kind = 'memory'
    #: The Redis URL (``kind == 'redis'``).
    url: str = ''
    #: Where that Redis is: one server, Sentinel or Cluster (``kind == 'redis'``).
    topology: RedisTopology | None = None
    #: The backend factory (``kind == 'factory'``): called with the settings.
    factory: Callable[[Mapping[str, Any]], Any] | None = None
    prefix: str = 'aiotao:'
    collection: str = 'aiotao_broadcast'
    collection_size: int = 16 * 1024 * 1024
    buffer: int = 1000
    timeout: float = 5.0
    retry_max: float = 5.0

    @property
    def display_url(self) -> str:
        """The Redis URL with its password masked, for logs."""
        return display_url(self.url)


def read_settings(settings: Mapping[str, Any] | None) -> BroadcastSettings:
    """Validate the ``aiotao.broadcast*`` settings; ``ConfigurationError`` names the bad one."""
    settings = settings or {}
    if settings.get(_OLD_SETTING):
        raise ConfigurationError(
            f'{_OLD_SETTING} was renamed: set {SETTING} = '
            f'{settings[_OLD_SETTING]} instead ({SETTING} takes {_ACCEPTED})'
        )
    value = str(settings.get(SETTING) or 'memory').strip()
    options = {
        'prefix': _text(settings, 'prefix', 'aiotao:'),
        'collection': _text(settings, 'collection', 'aiotao_broadcast'),
        'collection_size': _whole_number(settings, 'collection_size', 16 << 20, 4096),
        'buffer': _whole_number(settings, 'buffer', 1000, 1),
        'timeout': _seconds(settings, 'timeout', 5.0),
        'retry_max': _seconds(settings, 'retry_max', 5.0),
    }
    lowered = value.lower()
    if lowered == 'memory':
        return BroadcastSettings('memory', **options)  # type: ignore[arg-type]
    if lowered == 'mongodb':
        _check_mongodb(settings)
        return BroadcastSettings('mongodb', **options)  # type: ignore[arg-type]
    if '://' in value:
        _check_redis_url(value)
        return BroadcastSettings(
            'redis',
            url=value,
            topology=parse_redis_url(value, SETTING),
            **options,  # type: ignore[arg-type]
        )
    return BroadcastSettings(
        'factory',
        factory=_resolve_factory(value),
        **options,  # type: ignore[arg-type]
    )


def _text(settings: Mapping[str, Any], name: str, default: str) -> str:
    value = str(settings.get(f'{SETTING}.{name}', default)).strip()
    if not value:
        raise ConfigurationError(f'{SETTING}.{name} is empty; the default is {default}')
    return value


def _whole_number(
    settings: Mapping[str, Any], name: str, default: int, minimum: int
) -> int:
    expected = f'a whole number of at least {minimum}, e.g. {default}'
    return read_setting(
        settings, f'{SETTING}.{name}', default, whole_number(minimum), expected
    )


def _seconds(settings: Mapping[str, Any], name: str, default: float) -> float:
    expected = f'a number of seconds of at least 0.01, e.g. {default:g}'
    return read_setting(settings, f'{SETTING}.{name}', default, number(0.01), expected)


def _check_redis_url(url: str) -> None:
    shown = display_url(url)
    expected = 'expected redis://host:port/db or rediss://host:port/db'
    parts = urlsplit(url)
    if parts.scheme.lower() in SCHEMES and parts.scheme.lower() not in (
        'redis',
        'rediss',
    ):
        return  # Sentinel or Cluster: parse_redis_url checks them
    if parts.scheme not in ('redis', 'rediss'):
        raise ConfigurationError(
            f'{SETTING} = {shown}: {parts.scheme}:// is not a Redis URL; {expected} '
            f'(the setting takes {_ACCEPTED})'
        )
    try:
        parts.port  # noqa: B018 -- raises for a bad port
        if not parts.hostname:
            raise ValueError('no host')
        path = parts.path.strip('/')
        if path and not path.isdigit():
            raise ValueError(f'the database must be a number, not {path!r}')
        from redis.asyncio.connection import parse_url

        parse_url(url)  # the query arguments
    except ImportError:
        raise ConfigurationError(
            f'{SETTING} = {shown} needs the redis package, which is not '
            f'installed: pip install "aiotao[redis]"'
        ) from None
    except ValueError as exc:
        raise ConfigurationError(
            f'{SETTING} = {shown} is not a valid Redis URL: {exc}; {expected}'
        ) from None


def _check_mongodb(settings: Mapping[str, Any]) -> None:
    if not str(settings.get('mongo.uri') or '').strip():
        raise ConfigurationError(
            f"{SETTING} = mongodb uses the application's MongoDB, but mongo.uri "
            f'is not set: set it (mongo.uri = mongodb://127.0.0.1:27017/myapp)'
        )
    from aiotao.mongo.settings import read_settings as read_mongo_settings

    read_mongo_settings(settings)  # names a bad mongo.* setting


def _resolve_factory(name: str) -> Callable[[Mapping[str, Any]], Any]:
    try:
        factory = DottedNameResolver().resolve(name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigurationError(
            f'{SETTING} = {name}: not a known backend and cannot be imported '
            f'as a dotted name ({exc}); expected {_ACCEPTED}'
        ) from None
    if not callable(factory):
        raise ConfigurationError(
            f'{SETTING} = {name} is not callable; expected {_ACCEPTED}'
        )
    return factory  # type: ignore[no-any-return]
