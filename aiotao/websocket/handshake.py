"""The opening handshake's checks, as plain functions of the WSGI environ.

Nothing here does I/O: the view mapper asks these questions before it lets
a server complete the handshake, and tests ask them without sockets.

**Upgrade detection.**  :func:`is_upgrade_request` tells a websocket
handshake from a plain HTTP request; :func:`handshake_problem` says what is
wrong with a malformed one (for servers that let the application see it).

**Origin check.**  Browsers attach the page's ``Origin`` to every websocket
handshake and, unlike ``fetch``, do not apply CORS to it: without a check,
any web page could open a websocket to your application with the user's
cookies (cross-site websocket hijacking).  aiotao accepts by default only:

* the server's own origin (scheme, host and port of the request, as the
  server sees them after trusted proxy headers);
* the origins listed in ``aiotao.websocket.allowed_origins`` (space or
  newline separated; ``*`` accepts any origin);
* handshakes without an ``Origin`` header: those do not come from a browser
  (command-line and server-side clients), so they cannot carry a victim's
  cookies.  Set ``aiotao.websocket.allow_missing_origin = false`` to refuse
  them too.

``Origin: null`` (sandboxed frames, ``file:`` pages) counts as a foreign
origin.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pyramid.exceptions import ConfigurationError
from pyramid.settings import falsey, truthy

from aiotao.websocket.limits import SETTINGS_PREFIX

__all__ = [
    'OriginPolicy',
    'choose_subprotocol',
    'handshake_problem',
    'is_upgrade_request',
    'normalize_origin',
    'origin_policy_from_settings',
    'request_origin',
]

_DEFAULT_PORTS = {'http': 80, 'https': 443}
# A websocket URL's scheme names the same origin as its HTTP counterpart.
_SCHEMES = {'http': 'http', 'https': 'https', 'ws': 'http', 'wss': 'https'}


def _tokens(value: str) -> list[str]:
    return [token.strip().lower() for token in value.split(',')]


def is_upgrade_request(environ: Mapping[str, Any]) -> bool:
    """``True`` if the request asks to upgrade to the websocket protocol.

    >>> is_upgrade_request({'HTTP_UPGRADE': 'WebSocket'})
    True
    >>> is_upgrade_request({'HTTP_UPGRADE': 'h2c'}), is_upgrade_request({})
    (False, False)
    """
    return 'websocket' in _tokens(environ.get('HTTP_UPGRADE', ''))


def handshake_problem(environ: Mapping[str, Any]) -> str | None:
    """What makes this upgrade request an invalid websocket handshake, if anything.

    The checks of RFC 6455 section 4.2.1 that a server makes before
    answering 101; ``None`` means the handshake is well formed.

    >>> handshake_problem({'REQUEST_METHOD': 'GET', 'HTTP_UPGRADE': 'websocket',
    ...     'HTTP_CONNECTION': 'keep-alive, Upgrade',
    ...     'HTTP_SEC_WEBSOCKET_VERSION': '13',
    ...     'HTTP_SEC_WEBSOCKET_KEY': 'dGhlIHNhbXBsZSBub25jZQ=='})
    >>> handshake_problem({'REQUEST_METHOD': 'POST'})
    'a websocket handshake is a GET request, not POST'
    """
    method = environ.get('REQUEST_METHOD', 'GET')
    if method != 'GET':
        return f'a websocket handshake is a GET request, not {method}'
    if not is_upgrade_request(environ):
        return 'the "Upgrade: websocket" header is missing'
    if 'upgrade' not in _tokens(environ.get('HTTP_CONNECTION', '')):
        return 'the "Connection: Upgrade" header is missing'
    version = environ.get('HTTP_SEC_WEBSOCKET_VERSION', '').strip()
    if version != '13':
        return (
            f'unsupported Sec-WebSocket-Version {version!r}: this server '
            f'speaks version 13'
        )
    key = environ.get('HTTP_SEC_WEBSOCKET_KEY', '').strip()
    try:
        valid_key = len(base64.b64decode(key, validate=True)) == 16
    except binascii.Error:
        valid_key = False
    if not valid_key:
        return f'invalid Sec-WebSocket-Key {key!r}: expected 16 bytes in base64'
    return None


def choose_subprotocol(
    environ: Mapping[str, Any], supported: Iterable[str]
) -> str | None:
    """The first subprotocol the client offers that the server supports.

    Clients list theirs preferred first (``Sec-WebSocket-Protocol``).

    >>> env = {'HTTP_SEC_WEBSOCKET_PROTOCOL': 'chat.v2, chat.v1'}
    >>> choose_subprotocol(env, ['chat.v1', 'chat.v2']), choose_subprotocol(env, [])
    ('chat.v2', None)
    """
    offered: str = environ.get('HTTP_SEC_WEBSOCKET_PROTOCOL', '')
    known = set(supported)
    for token in offered.split(','):
        if token.strip() in known:
            return token.strip()
    return None


def normalize_origin(origin: str) -> str | None:
    """``scheme://host[:port]`` in canonical form, or ``None`` if not an origin.

    Lower-cases scheme and host, drops default ports and maps ``ws``/``wss``
    to ``http``/``https``, so that equal origins compare equal.

    >>> normalize_origin('HTTPS://App.Example:443'), normalize_origin('ws://h:8080')
    ('https://app.example', 'http://h:8080')
    >>> normalize_origin('null'), normalize_origin('https://a.example/path')
    (None, None)
    """
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = _SCHEMES.get(parts.scheme.lower())
    host = parts.hostname
    if scheme is None or not host or parts.path not in ('', '/'):
        return None
    if parts.query or parts.fragment or parts.username or parts.password:
        return None
    if ':' in host:
        host = f'[{host}]'  # IPv6 literal
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f'{scheme}://{host}'
    return f'{scheme}://{host}:{port}'


def request_origin(environ: Mapping[str, Any]) -> str | None:
    """The origin of the server as this request reached it.

    >>> request_origin({'wsgi.url_scheme': 'https', 'HTTP_HOST': 'App.example:443'})
    'https://app.example'
    >>> request_origin({'wsgi.url_scheme': 'http', 'SERVER_NAME': 'h',
    ...                 'SERVER_PORT': '8080'})
    'http://h:8080'
    """
    scheme = environ.get('wsgi.url_scheme', 'http')
    host = environ.get('HTTP_HOST')
    if not host:
        host = f'{environ.get("SERVER_NAME", "")}:{environ.get("SERVER_PORT", "")}'
    return normalize_origin(f'{scheme}://{host}')


@dataclass(frozen=True, slots=True)
class OriginPolicy:
    """Which ``Origin`` headers a websocket handshake may carry.

    >>> policy = OriginPolicy(allowed=frozenset({'https://b.example'}))
    >>> env = {'wsgi.url_scheme': 'https', 'HTTP_HOST': 'a.example'}
    >>> policy.problem({**env, 'HTTP_ORIGIN': 'https://a.example'}) is None
    True
    >>> policy.problem({**env, 'HTTP_ORIGIN': 'https://b.example'}) is None
    True
    >>> print(policy.problem({**env, 'HTTP_ORIGIN': 'https://evil.example'}))
    origin 'https://evil.example' is not allowed to open websockets here (this server is 'https://a.example'); to allow it, add it to the setting aiotao.websocket.allowed_origins
    """

    #: Normalized origins accepted besides the server's own.
    allowed: frozenset[str] = frozenset()
    #: ``*``: accept every origin.
    allow_any: bool = False
    #: Accept handshakes without an ``Origin`` header (non-browser clients).
    allow_missing: bool = True

    def problem(self, environ: Mapping[str, Any]) -> str | None:
        """Why the handshake's origin is refused, or ``None`` if it is allowed."""
        origin = environ.get('HTTP_ORIGIN')
        if origin is None:
            if self.allow_missing:
                return None
            return (
                'the handshake has no Origin header, and this server requires '
                'one (setting aiotao.websocket.allow_missing_origin = false)'
            )
        if self.allow_any:
            return None
        normalized = normalize_origin(origin)
        own = request_origin(environ)
        if normalized is not None and (normalized == own or normalized in self.allowed):
            return None
        return (
            f'origin {origin!r} is not allowed to open websockets here (this '
            f'server is {own!r}); to allow it, add it to the setting '
            f'{SETTINGS_PREFIX}allowed_origins'
        )


def origin_policy_from_settings(settings: Mapping[str, Any] | None) -> OriginPolicy:
    """The :class:`OriginPolicy` of ``aiotao.websocket.allowed_origins`` and friends.

    >>> origin_policy_from_settings({'aiotao.websocket.allowed_origins':
    ...     'https://a.example\\n  HTTPS://B.example:443'}).allowed == {
    ...     'https://a.example', 'https://b.example'}
    True
    >>> origin_policy_from_settings({'aiotao.websocket.allowed_origins': 'a.example'})
    Traceback (most recent call last):
    ...
    pyramid.exceptions.ConfigurationError: aiotao.websocket.allowed_origins: 'a.example' is not an origin; expected scheme://host[:port] such as https://app.example, or * for any origin
    """
    settings = settings or {}
    key = SETTINGS_PREFIX + 'allowed_origins'
    value = settings.get(key, '')
    entries: Iterable[str] = value.split() if isinstance(value, str) else value
    allowed: set[str] = set()
    allow_any = False
    for entry in entries:
        if entry == '*':
            allow_any = True
            continue
        normalized = normalize_origin(entry)
        if normalized is None:
            raise ConfigurationError(
                f'{key}: {entry!r} is not an origin; expected '
                f'scheme://host[:port] such as https://app.example, or * for '
                f'any origin'
            )
        allowed.add(normalized)
    missing_key = SETTINGS_PREFIX + 'allow_missing_origin'
    allow_missing = _boolean(settings.get(missing_key, True))
    if allow_missing is None:
        raise ConfigurationError(
            f'{missing_key} = {settings[missing_key]!r}: expected true or false'
        )
    return OriginPolicy(
        allowed=frozenset(allowed), allow_any=allow_any, allow_missing=allow_missing
    )


def _boolean(value: Any) -> bool | None:
    # pyramid.settings.asbool reads any unknown word as false: a typo would
    # silently tighten (or loosen) security, so unknown words are errors.
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in truthy:
        return True
    if word in falsey:
        return False
    return None
