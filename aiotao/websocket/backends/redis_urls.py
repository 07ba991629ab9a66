"""Redis URLs: one server, a Sentinel-watched master, or a Redis Cluster.

The three topologies aiotao's Redis users run, each named by one URL so
that ``aiotao.broadcast`` and ``aiotao.game.directory`` stay one setting:

* one server: ``redis://[[user]:password@]host[:port][/db]`` (``rediss://``
  for TLS);
* the master Sentinel names ``service``:
  ``redis+sentinel://[[user]:password@]h1[:port],h2[:port]/service[/db]``
  (the sentinels' port is 26379 by default);
* a Redis Cluster: ``redis+cluster://[[user]:password@]h1[:port],h2[:port]``
  (any of its nodes; port 6379 by default).

``rediss+sentinel://`` and ``rediss+cluster://`` use TLS.  The password
(if any) is the data nodes'; sentinels are reached without one.  The
``redis+sentinel://`` form is the one the ``redis-sentinel-url`` package
and several job queues use; redis-py itself has no URL for either.

Parsing is plain code, run when the application starts, so a typo is a
:exc:`~pyramid.exceptions.ConfigurationError` naming the setting, not a
worker that cannot connect::

    >>> parse_redis_url('redis+sentinel://10.0.0.1,10.0.0.2:26380/cache/2', 'aiotao.broadcast')
    RedisTopology(kind='sentinel', nodes=(('10.0.0.1', 26379), ('10.0.0.2', 26380)), service='cache', db=2, username=None, password=None, ssl=False, url='redis+sentinel://10.0.0.1,10.0.0.2:26380/cache/2')
    >>> parse_redis_url('redis+sentinel://10.0.0.1:26379', 'aiotao.broadcast')
    Traceback (most recent call last):
    ...
    pyramid.exceptions.ConfigurationError: aiotao.broadcast = redis+sentinel://10.0.0.1:26379: the service (the master's name in the sentinels' configuration) is missing; expected redis+sentinel://host:26379,host:26379/service/db
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote

from pyramid.exceptions import ConfigurationError

__all__ = ['SCHEMES', 'RedisTopology', 'display_url', 'parse_redis_url']

Kind = Literal['server', 'sentinel', 'cluster']

#: Every scheme aiotao takes, and the topology it names.
SCHEMES: dict[str, tuple[Kind, bool]] = {
    'redis': ('server', False),
    'rediss': ('server', True),
    'redis+sentinel': ('sentinel', False),
    'rediss+sentinel': ('sentinel', True),
    'redis+cluster': ('cluster', False),
    'rediss+cluster': ('cluster', True),
}
_EXPECTED: dict[Kind, str] = {
    'server': 'redis://host:port/db or rediss://host:port/db',
    'sentinel': 'redis+sentinel://host:26379,host:26379/service/db',
    'cluster': 'redis+cluster://host:6379,host:6379',
}
_DEFAULT_PORT: dict[Kind, int] = {'server': 6379, 'sentinel': 26379, 'cluster': 6379}
_PASSWORD = re.compile(r'(?<=://)([^:/@]*):[^@/]*@')
#: Makes the error for a problem with the URL.
_Bad = Callable[[str], ConfigurationError]
_HOST = re.compile(r'^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+)(?::(\d+))?$')


@dataclass(frozen=True)
class RedisTopology:
    """Where Redis is, as one URL says."""

    kind: Kind
    #: ``(host, port)``: the server, the sentinels, or the cluster's seeds.
    nodes: tuple[tuple[str, int], ...]
    #: The master's name in the sentinels' configuration (Sentinel only).
    service: str | None = None
    db: int = 0
    username: str | None = None
    password: str | None = None
    ssl: bool = False
    url: str = ''

    @property
    def display_url(self) -> str:
        """The URL with its password masked, for logs."""
        return display_url(self.url)


def display_url(url: str) -> str:
    """``url`` with its password masked.

    >>> display_url('redis+cluster://:s3cret@h1:7000,h2:7001')
    'redis+cluster://:***@h1:7000,h2:7001'
    """
    return _PASSWORD.sub(r'\1:***@', url)


def parse_redis_url(url: str, setting: str) -> RedisTopology:
    """The topology ``url`` names; ``ConfigurationError`` naming ``setting`` if malformed.

    >>> parse_redis_url('redis+cluster://h1:7000,h2:7001', 'aiotao.broadcast').nodes
    (('h1', 7000), ('h2', 7001))
    """
    shown = display_url(url)
    scheme, sep, rest = url.partition('://')
    if not sep or scheme.lower() not in SCHEMES:
        accepted = ', '.join(f'{name}://' for name in SCHEMES)
        raise ConfigurationError(
            f'{setting} = {shown}: {scheme}:// is not a Redis URL; expected one of '
            f'{accepted} (e.g. {_EXPECTED["server"]}, {_EXPECTED["sentinel"]} or '
            f'{_EXPECTED["cluster"]})'
        )
    kind, ssl = SCHEMES[scheme.lower()]

    def bad(problem: str) -> ConfigurationError:
        return ConfigurationError(
            f'{setting} = {shown}: {problem}; expected {_EXPECTED[kind]}'
        )

    if '?' in rest or '#' in rest:
        if kind != 'server':
            raise bad('query arguments are not taken here')
        rest = rest.split('#', 1)[0].split('?', 1)[0]
    location, _, path = rest.partition('/')
    credentials, at, hosts = location.rpartition('@')
    username = password = None
    if at:
        user, colon, secret = credentials.partition(':')
        username = unquote(user) or None
        password = unquote(secret) if colon else None
        if not colon:  # redis://secret@host: the password alone
            username, password = None, unquote(user) or None
    nodes = tuple(_node(part, kind, bad) for part in hosts.split(','))
    if kind == 'server' and len(nodes) != 1:
        raise bad(
            'one server only (for several, use redis+sentinel:// or redis+cluster://)'
        )
    segments = [segment for segment in path.split('/') if segment]
    service = None
    if kind == 'sentinel':
        if not segments:
            raise bad(
                "the service (the master's name in the sentinels' configuration) "
                'is missing'
            )
        service = unquote(segments.pop(0))
    db = _db(segments, kind, bad)
    return RedisTopology(kind, nodes, service, db, username, password, ssl, url)


def _node(text: str, kind: Kind, bad: _Bad) -> tuple[str, int]:
    match = _HOST.match(text.strip())
    if match is None:
        raise bad(f'{text!r} is not host or host:port')
    host = match.group(1).strip('[]')
    port = int(match.group(2)) if match.group(2) else _DEFAULT_PORT[kind]
    if not 0 < port < 65536:
        raise bad(f'port {port} is out of range')
    return host, port


def _db(segments: list[str], kind: Kind, bad: _Bad) -> int:
    if not segments:
        return 0
    if len(segments) > 1 or not segments[0].isdigit():
        raise bad(f'the database must be a number, not {"/".join(segments)!r}')
    db = int(segments[0])
    if kind == 'cluster' and db != 0:
        raise bad('a Redis Cluster has database 0 only')
    return db
