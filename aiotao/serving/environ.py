"""PEP 3333 environ from what a server knows about a request.

A server fills a :class:`RequestHead` from its own request object (aiohttp's
request, an ASGI scope) and :func:`build_environ` does the rest, the same for
every server:

* ``PATH_INFO`` is the percent-decoded path as a latin-1 string (PEP 3333's
  "bytes as str"), from the raw path; ``QUERY_STRING`` is the raw query,
  byte for byte; ``RAW_URI`` (as in gunicorn) the raw target;
* ``SCRIPT_NAME`` is the mount point, stripped from the front of the path;
* repeated headers are joined with ``, `` (``Cookie`` with ``; ``), headers
  whose name contains ``_`` are dropped, as gunicorn does, since
  ``X_Forwarded_For`` and ``X-Forwarded-For`` would both become
  ``HTTP_X_FORWARDED_FOR``;
* ``HTTP_HOST`` is the host of an absolute-form target
  (``GET http://example.org/ HTTP/1.1``) rather than the ``Host`` header,
  as RFC 9112 section 3.2.2 says (the scheme stays the connection's);
* ``REMOTE_ADDR``, ``wsgi.url_scheme`` and ``HTTP_HOST`` follow trusted
  ``X-Forwarded-*`` headers (:mod:`aiotao.serving.proxies`).

>>> from aiotao.serving.body import empty_body
>>> head = RequestHead('GET', b'/shop/caf%C3%A9', b'q=%20x&q=y',
...                    [(b'Host', b'example.com'), (b'Cookie', b'a=1'), (b'Cookie', b'b=2')],
...                    client=('203.0.113.9', 50000))
>>> environ = build_environ(head, empty_body(), ServingSettings(script_name='/shop'))
>>> environ['SCRIPT_NAME'], environ['PATH_INFO'], environ['QUERY_STRING']
('/shop', '/cafÃ©', 'q=%20x&q=y')
>>> environ['HTTP_COOKIE'], environ['REMOTE_ADDR'], environ['SERVER_NAME']
('a=1; b=2', '203.0.113.9', 'example.com')
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

from aiotao.serving.body import RequestBody
from aiotao.serving.errors import BadRequest, OutsideMountPoint
from aiotao.serving.settings import ServingSettings

SERVER_SOFTWARE = 'aiotao'

#: Fields that must not be combined with commas (RFC 6265 section 5.4).
_JOINERS = {'HTTP_COOKIE': '; '}
_UNPREFIXED = {'CONTENT_TYPE', 'CONTENT_LENGTH'}
# the server has de-chunked and measured the body: these no longer apply
_DROPPED = {'HTTP_TRANSFER_ENCODING', 'CONTENT_LENGTH'}
_FORWARDING = {
    'HTTP_X_FORWARDED_FOR': 'x-forwarded-for',
    'HTTP_X_FORWARDED_PROTO': 'x-forwarded-proto',
    'HTTP_X_FORWARDED_HOST': 'x-forwarded-host',
}
_DEFAULT_PORTS = {'http': '80', 'https': '443'}
#: The schemes of an absolute-form target (websocket clients may send ws).
_TARGET_SCHEMES = {b'http', b'https', b'ws', b'wss'}
#: host[:port] of an absolute-form target: a registered name, an IPv4
#: address or a bracketed IPv6 one (RFC 3986 section 3.2.2), no userinfo.
_AUTHORITY = re.compile(
    rb"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]+)(:[0-9]*)?"
)
_PROTOCOLS = {'1.1': 'HTTP/1.1', '1.0': 'HTTP/1.0'}
#: What every environ holds.
_CONSTANT_KEYS: dict[str, Any] = {
    'SERVER_SOFTWARE': SERVER_SOFTWARE,
    'wsgi.version': (1, 0),
    'wsgi.input_terminated': True,
    'webob.is_body_seekable': True,
    'wsgi.multithread': True,
    'wsgi.multiprocess': True,
    'wsgi.run_once': False,
}

#: Environ keys of the header names seen so far (``None``: dropped).  Clients
#: send the same few names over and over; the size bound keeps a client that
#: makes up names from growing it.
_header_keys: dict[bytes, str | None] = {}
_HEADER_KEYS_KEPT = 512


@dataclass(slots=True)
class RequestHead:
    """A request as a server parsed it, before its body (treat as read-only).

    Not a frozen dataclass: every request makes one, and a frozen one
    costs three times as much to build.
    """

    method: str
    #: The path as sent, percent-encoded, without the query string.
    raw_path: bytes
    #: The query string as sent, without ``?``.
    query_string: bytes
    #: Raw header pairs in arrival order; names in any case.
    headers: Sequence[tuple[bytes, bytes]]
    http_version: str = '1.1'
    scheme: str = 'http'
    #: The peer's ``(host, port)``; ``None`` for a UNIX socket.
    client: tuple[str, int] | None = None
    #: The listening ``(host, port)``; ``None`` if unknown.
    server: tuple[str, int] | None = None
    #: A mount point given by the server itself (ASGI ``root_path``).
    root_path: str = ''
    #: The host of an absolute-form target, which the ``Host`` header gives
    #: way to (:func:`parse_target`); ``None`` for the usual origin form.
    authority: bytes | None = None


def split_target(target: bytes) -> tuple[bytes, bytes]:
    """Split a request target into raw path and raw query.

    >>> split_target(b'/a%2Fb?x=1&y'), split_target(b'http://h:1/p?q')
    ((b'/a%2Fb', b'x=1&y'), (b'/p', b'q'))

    An absolute-form target that is not a URL raises :class:`BadRequest`.
    """
    path, query, _ = parse_target(target)
    return path, query


def parse_target(target: bytes) -> tuple[bytes, bytes, bytes | None]:
    """Raw path, raw query and, for an absolute-form target, its authority.

    >>> parse_target(b'/p?q'), parse_target(b'http://example.org:8080/p?q')
    ((b'/p', b'q', None), (b'/p', b'q', b'example.org:8080'))

    The authority of an absolute-form target (as sent to proxies, and which
    servers must accept) is the request's host: RFC 9112 section 3.2.2 has
    the server use it instead of the ``Host`` header.  A target that is not
    an ``http(s)`` or ``ws(s)`` URL with a host (and no user name) raises
    :class:`BadRequest`.
    """
    if target.startswith(b'/') or b'://' not in target[:10]:
        path, _, query = target.partition(b'?')
        return path, query, None
    try:
        parts = urlsplit(target)
    except ValueError:  # a broken bracketed host: 'http://[/x'
        raise BadRequest(
            f'the request target {target[:60]!r} is not a valid URL'
        ) from None
    if parts.scheme.lower() not in _TARGET_SCHEMES:
        raise BadRequest(
            f'the request target {target[:60]!r} is not an http or https URL'
        )
    if not _AUTHORITY.fullmatch(parts.netloc):
        raise BadRequest(
            f'the request target {target[:60]!r} does not name a host '
            f'(host[:port], no user name)'
        )
    return parts.path or b'/', parts.query, parts.netloc


def wsgi_path(raw_path: bytes) -> str:
    """Percent-decode a raw path into PEP 3333's latin-1 string form."""
    return unquote_to_bytes(raw_path).decode('latin-1')


def mount(path: str, script_name: str, *, outside_ok: bool) -> tuple[str, str]:
    """Split ``path`` into ``(SCRIPT_NAME, PATH_INFO)``.

    >>> mount('/app/x', '/app', outside_ok=False), mount('/x', '/app', outside_ok=True)
    (('/app', '/x'), ('/app', '/x'))

    A path outside the mount point raises :class:`OutsideMountPoint` unless
    ``outside_ok``, for servers that pass paths already stripped (gunicorn's
    ASGI worker does, uvicorn does not).
    """
    if not script_name:
        return '', path
    if path == script_name or path.startswith(script_name + '/'):
        return script_name, path[len(script_name) :]
    if outside_ok:
        return script_name, path
    raise OutsideMountPoint(
        f'The path {path!r} is outside this application, which is mounted '
        f'at {script_name!r} (setting aiotao.script_name).'
    )


def build_environ(
    head: RequestHead, body: RequestBody, settings: ServingSettings
) -> dict[str, Any]:
    """The WSGI environ of ``head`` with ``body`` as ``wsgi.input``.

    Raises :class:`~aiotao.serving.errors.ClientError` for a request that
    cannot be served (a path outside the mount point, a bad header).
    """
    raw_path = head.raw_path
    # most paths have no percent-escape to decode (bytes.find, not ``in``:
    # ``b'%' in raw_path`` first tries b'%' as an integer and formats a
    # TypeError for it)
    raw = raw_path.decode('latin-1')
    path = wsgi_path(raw_path) if raw_path.find(b'%') >= 0 else raw
    if head.root_path:
        mount_point = _as_wsgi_str(head.root_path.rstrip('/'))
        script_name, path_info = mount(path, mount_point, outside_ok=True)
    elif settings.script_name:
        mount_point = _as_wsgi_str(settings.script_name)
        script_name, path_info = mount(path, mount_point, outside_ok=False)
    else:
        script_name, path_info = '', path
    query = head.query_string.decode('latin-1')
    # the keys every request has the same values for, copied in one go
    environ = _CONSTANT_KEYS.copy()
    if not settings.multiprocess:
        # add-ons that keep state in memory (pyramid_debugtoolbar) work then
        environ['wsgi.multiprocess'] = False
    environ['REQUEST_METHOD'] = head.method
    environ['SCRIPT_NAME'] = script_name
    environ['PATH_INFO'] = path_info
    environ['QUERY_STRING'] = query
    environ['RAW_URI'] = raw + '?' + query if query else raw
    environ['SERVER_PROTOCOL'] = _PROTOCOLS.get(head.http_version) or (
        f'HTTP/{head.http_version}'
    )
    environ['wsgi.url_scheme'] = head.scheme
    environ['wsgi.input'] = body.file
    # looked up each time: a test runner may have replaced it since
    environ['wsgi.errors'] = sys.stderr
    forwarded = False
    header_keys = _header_keys
    for raw_name, raw_value in head.headers:
        try:
            key = header_keys[raw_name]
        except KeyError:
            key = _header_key(raw_name)
        if key is None:
            continue
        value = raw_value.decode('latin-1').strip()
        if key in environ:
            environ[key] += _JOINERS.get(key, ', ') + value
        else:
            environ[key] = value
            if key in _FORWARDING:
                forwarded = True
    for key in _DROPPED:
        environ.pop(key, None)
    if head.authority is not None:
        # RFC 9112 section 3.2.2: the target's host, not the Host header
        # (a trusted proxy's X-Forwarded-Host still wins, below)
        environ['HTTP_HOST'] = head.authority.decode('latin-1')
    if body.length:
        environ['CONTENT_LENGTH'] = str(body.length)
    forwarding = (
        {name: environ[key] for key, name in _FORWARDING.items() if key in environ}
        if forwarded
        else {}
    )
    _add_addresses(environ, head, settings, forwarding)
    return environ


def _header_key(raw_name: bytes) -> str | None:
    """The environ key of a header name, or ``None`` for a dropped name."""
    name = raw_name.decode('latin-1')
    key: str | None
    if '_' in name:
        key = None
    else:
        key = name.upper().replace('-', '_')
        if key not in _UNPREFIXED:
            key = 'HTTP_' + key
    if len(_header_keys) >= _HEADER_KEYS_KEPT:
        _header_keys.clear()
    _header_keys[raw_name] = key
    return key


def _add_addresses(
    environ: dict[str, Any],
    head: RequestHead,
    settings: ServingSettings,
    forwarding: dict[str, str],
) -> None:
    peer = head.client[0] if head.client else None
    if head.client:
        environ['REMOTE_ADDR'] = head.client[0]
        environ['REMOTE_PORT'] = str(head.client[1])
    if forwarding:
        forwarded = settings.trusted_proxies.forwarded(peer, forwarding)
        if forwarded.remote_addr is not None:
            environ['REMOTE_ADDR'] = forwarded.remote_addr
            # the port was the proxy's, not the client's
            environ.pop('REMOTE_PORT', None)
        if forwarded.scheme is not None:
            environ['wsgi.url_scheme'] = forwarded.scheme
        if forwarded.host is not None:
            environ['HTTP_HOST'] = forwarded.host
    name, port = _server_name(environ, head)
    environ['SERVER_NAME'] = name
    environ['SERVER_PORT'] = port


def _server_name(environ: dict[str, Any], head: RequestHead) -> tuple[str, str]:
    """``SERVER_NAME`` and ``SERVER_PORT``: from ``Host``, else the socket."""
    default_port = _DEFAULT_PORTS.get(environ['wsgi.url_scheme'], '80')
    host = environ.get('HTTP_HOST')
    if host:
        if host.startswith('['):  # [IPv6]:port
            name, _, rest = host[1:].partition(']')
            port = rest[1:] if rest.startswith(':') else ''
        else:
            name, _, port = host.partition(':')
        if port and not port.isdigit():
            raise BadRequest(f'the Host header {host!r} has an invalid port')
        return name, port or default_port
    if head.server is not None:
        return head.server[0], str(head.server[1])
    return 'localhost', default_port


def _as_wsgi_str(text: str) -> str:
    """A text path (settings, ASGI ``root_path``) in PEP 3333's latin-1 form."""
    return text.encode('utf-8').decode('latin-1')
