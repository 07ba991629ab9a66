"""Reading the ``[aiotao.server:NAME]`` sections of an ini, checked.

Pure code: a section becomes a :class:`ServerSection` or a
:class:`~pyramid.exceptions.ConfigurationError` that names the section and
the key::

    >>> section = parse_section('echo', {
    ...     'kind': 'udp', 'port': '6544',
    ...     'protocol': 'asyncio:DatagramProtocol'})
    >>> section.kind, section.host, section.port, section.reuse_port
    ('udp', '127.0.0.1', 6544, True)
    >>> parse_section('echo', {'kind': 'sctp', 'port': '6544'})
    Traceback (most recent call last):
    ...
    pyramid.exceptions.ConfigurationError: [aiotao.server:echo] kind = 'sctp': expected tcp or udp

Keys: ``kind`` (``tcp`` or ``udp``), ``host`` (default ``127.0.0.1``),
``port`` (1 to 65535), ``reuse_port`` (default ``true``), one of
``protocol`` (an asyncio protocol class) or ``factory`` (an ``async def``
function), and ``option.NAME`` keys, free-form, for the server's own use
(``section.options['NAME']``).  Any other key is refused, so that a typo
does not go unnoticed.
"""

from __future__ import annotations

import asyncio
import configparser
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pyramid.exceptions import ConfigurationError
from pyramid.path import DottedNameResolver
from pyramid.settings import falsey, truthy

from aiotao.mappers.detection import is_async_callable

__all__ = [
    'SECTION_PREFIX',
    'ServerSection',
    'gunicorn_ini',
    'parse_section',
    'read_sections',
]

#: ``[aiotao.server:NAME]``: see :mod:`aiotao.sidecars` for why not ``[server:NAME]``.
SECTION_PREFIX = 'aiotao.server:'
KINDS = ('tcp', 'udp')
DEFAULT_HOST = '127.0.0.1'
OPTION_PREFIX = 'option.'
_KEYS = ('kind', 'host', 'port', 'reuse_port', 'protocol', 'factory')


@dataclass(frozen=True)
class ServerSection:
    """One ``[aiotao.server:NAME]`` section, checked."""

    name: str
    kind: str
    port: int
    host: str = DEFAULT_HOST
    #: Bind with ``SO_REUSEPORT``, so that every worker serves the port.
    reuse_port: bool = True
    #: An :class:`asyncio.Protocol` (tcp) or :class:`asyncio.DatagramProtocol`
    #: (udp) subclass, made once per connection (tcp) or once (udp).
    protocol: type[asyncio.BaseProtocol] | None = None
    #: ``async def factory(registry, section)`` returning a server.
    factory: Any = None
    #: The ``option.NAME`` keys, without their prefix.
    options: Mapping[str, str] = field(default_factory=dict)

    @property
    def title(self) -> str:
        """``[aiotao.server:NAME]``, as error messages name it."""
        return f'[{SECTION_PREFIX}{self.name}]'

    @property
    def address(self) -> str:
        return f'{self.host}:{self.port} ({self.kind})'


def read_sections(ini: str) -> list[ServerSection]:
    """Every ``[aiotao.server:NAME]`` section of ``ini``, in file order.

    ``%(here)s`` and ``%(__file__)s`` expand as in PasteDeploy.
    """
    path = os.path.abspath(ini)
    parser = configparser.ConfigParser(
        defaults={'here': os.path.dirname(path), '__file__': path}
    )
    if not parser.read(path):
        raise ConfigurationError(f'cannot read the ini file {path}')
    defaults = parser.defaults()
    sections = []
    for title in parser.sections():
        if title.startswith(SECTION_PREFIX):
            values = {k: v for k, v in parser[title].items() if k not in defaults}
            sections.append(parse_section(title[len(SECTION_PREFIX) :], values))
    return sections


def parse_section(name: str, values: Mapping[str, str]) -> ServerSection:
    """Check one section's keys; :class:`ConfigurationError` names what is wrong."""
    title = f'[{SECTION_PREFIX}{name}]'
    if not name.strip():
        raise ConfigurationError(f'{title}: the section needs a name after the colon')
    for key in values:
        if key not in _KEYS and not key.startswith(OPTION_PREFIX):
            raise ConfigurationError(
                f'{title} {key}: unknown key; expected {", ".join(_KEYS)} or '
                f"{OPTION_PREFIX}NAME for the server's own options"
            )
    kind = _required(title, values, 'kind').lower()
    if kind not in KINDS:
        raise ConfigurationError(
            f'{title} kind = {values["kind"]!r}: expected tcp or udp'
        )
    port = _port(title, _required(title, values, 'port'))
    host = values.get('host', DEFAULT_HOST).strip()
    if not host:
        raise ConfigurationError(
            f'{title} host: empty; give an address such as 127.0.0.1'
        )
    protocol_name = values.get('protocol', '').strip()
    factory_name = values.get('factory', '').strip()
    if bool(protocol_name) == bool(factory_name):
        raise ConfigurationError(
            f'{title}: give either protocol = package.module:ProtocolClass or '
            f'factory = package.module:async_function (one of the two)'
        )
    protocol = factory = None
    if protocol_name:
        protocol = _protocol_class(title, kind, protocol_name)
    else:
        factory = _resolve(title, 'factory', factory_name)
        if not is_async_callable(factory):
            raise ConfigurationError(
                f'{title} factory = {factory_name}: expected an async def '
                f'function taking (registry, section)'
            )
    return ServerSection(
        name=name,
        kind=kind,
        host=host,
        port=port,
        reuse_port=_boolean(title, 'reuse_port', values.get('reuse_port', 'true')),
        protocol=protocol,
        factory=factory,
        options={
            key[len(OPTION_PREFIX) :]: value
            for key, value in values.items()
            if key.startswith(OPTION_PREFIX)
        },
    )


def _required(title: str, values: Mapping[str, str], key: str) -> str:
    value = values.get(key, '').strip()
    if not value:
        raise ConfigurationError(f'{title} {key}: missing; this key is required')
    return value


def _port(title: str, raw: str) -> int:
    try:
        port = int(raw)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise ConfigurationError(
            f'{title} port = {raw!r}: expected a whole number from 1 to 65535'
        )
    return port


def _boolean(title: str, key: str, raw: str) -> bool:
    word = raw.strip().lower()
    if word in truthy:
        return True
    if word in falsey:
        return False
    raise ConfigurationError(f'{title} {key} = {raw!r}: expected true or false')


def _resolve(title: str, key: str, dotted: str) -> Any:
    try:
        return DottedNameResolver().resolve(dotted)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigurationError(
            f'{title} {key} = {dotted}: cannot import it ({exc})'
        ) from None


def _protocol_class(title: str, kind: str, dotted: str) -> type[asyncio.BaseProtocol]:
    found = _resolve(title, 'protocol', dotted)
    expected: type[asyncio.BaseProtocol] = (
        asyncio.DatagramProtocol if kind == 'udp' else asyncio.Protocol
    )
    if not (isinstance(found, type) and issubclass(found, expected)):
        raise ConfigurationError(
            f'{title} protocol = {dotted}: a {kind} server needs a subclass of '
            f'asyncio.{expected.__name__}, got {found!r}'
        )
    return found


def gunicorn_ini(cfg: Any, app: Any = None) -> str | None:
    """The ini a gunicorn master was started with, or ``None``.

    ``gunicorn --paste development.ini`` sets gunicorn's ``paste`` setting
    (the gunicorn application keeps it as an absolute ``app_uri``);
    ``pserve development.ini`` with ``use = egg:gunicorn#main`` sets only
    ``default_proc_name``, to the ini's path.
    """
    uri = None
    if getattr(cfg, 'paste', None):
        uri = getattr(app, 'app_uri', None) or cfg.paste
    else:
        uri = getattr(cfg, 'default_proc_name', None)
    if not uri:
        return None
    path = str(uri).split('#', 1)[0].removeprefix('config:')
    return path if os.path.isfile(path) else None
