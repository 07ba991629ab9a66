"""What the test client sends: the URL, the headers and the body of a request.

Plain functions, no I/O.  They produce what an HTTP client would put on the
wire (a percent-encoded path, a raw query string, header pairs, body bytes);
the client then hands that to the server's own conversion
(:func:`aiotao.serving.environ.build_environ`), so the application sees the
environ aiotao's servers would build::

    url = resolve_url('http://testserver', '/search?q=caf\\u00e9', {'page': 2})
    url.raw_path, url.query                  # (b'/search', b'q=caf%C3%A9&page=2')
    body, content_type = encode_body(json={'a': 1})
"""

from __future__ import annotations

import json as jsonlib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias
from urllib.parse import quote, urlencode, urljoin, urlsplit

__all__ = [
    'URL',
    'FileField',
    'FormData',
    'HeaderInput',
    'Params',
    'encode_body',
    'merge_headers',
    'resolve_url',
]

#: Query parameters: a mapping (values may be lists), pairs, or a raw string.
Params: TypeAlias = Mapping[str, Any] | Sequence[tuple[str, Any]] | str
#: Headers: a mapping, or pairs (to repeat a header).
HeaderInput: TypeAlias = Mapping[str, str] | Iterable[tuple[str, str]]
#: Form fields: a mapping (values may be lists), pairs, or a raw body.
FormData: TypeAlias = Mapping[str, Any] | Sequence[tuple[str, Any]] | bytes | str
#: A file to upload: its content, or ``(filename, content[, content_type])``.
FileField: TypeAlias = bytes | tuple[str, bytes | str] | tuple[str, bytes | str, str]

# what a path or a query may keep as it is; '%' too, so that a path already
# percent-encoded by the caller is sent as given
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + '?'
_DEFAULT_PORTS = {'http': 80, 'https': 443, 'ws': 80, 'wss': 443}


@dataclass(frozen=True, slots=True)
class URL:
    """A request target, resolved against the client's base URL."""

    scheme: str
    #: ``Host`` header value: the host, with the port unless it is the default.
    host: str
    raw_path: bytes
    query: bytes

    @property
    def target(self) -> str:
        """Path and query, as in the request line."""
        path = self.raw_path.decode('ascii')
        return f'{path}?{self.query.decode("ascii")}' if self.query else path

    def __str__(self) -> str:
        return f'{self.scheme}://{self.host}{self.target}'

    @property
    def server(self) -> tuple[str, int]:
        """The ``(host, port)`` a connection would go to."""
        name, _, port = self.host.rpartition(':')
        if name and port.isdigit() and not self.host.endswith(']'):
            return name, int(port)
        return self.host, _DEFAULT_PORTS.get(self.scheme, 80)


def resolve_url(base_url: str, path: str, params: Params | None = None) -> URL:
    """The :class:`URL` of ``path`` (relative, or absolute) with ``params`` added.

    >>> url = resolve_url('http://testserver', '/a b?x=1', {'y': ['2', '3']})
    >>> url.raw_path, url.query, url.host
    (b'/a%20b', b'x=1&y=2&y=3', 'testserver')
    >>> str(resolve_url('http://testserver', 'https://example.com:8443/p'))
    'https://example.com:8443/p'
    """
    parts = urlsplit(urljoin(base_url.rstrip('/') + '/', path))
    scheme = parts.scheme or 'http'
    if scheme not in _DEFAULT_PORTS:
        raise ValueError(f'cannot send a request to {path!r}: expected a path or URL')
    host = parts.netloc.rpartition('@')[2] or 'testserver'
    name, _, port = host.rpartition(':')
    if port == str(_DEFAULT_PORTS[scheme]) and not host.endswith(']'):
        host = name
    raw_path = quote(parts.path or '/', safe=_PATH_SAFE).encode('ascii')
    query = quote(parts.query, safe=_QUERY_SAFE + '=&')
    extra = encode_params(params)
    if extra:
        query = f'{query}&{extra}' if query else extra
    return URL(scheme, host, raw_path, query.encode('ascii'))


def encode_params(params: Params | None) -> str:
    """A query string for ``params``.

    >>> encode_params({'q': 'café', 'tag': ['a', 'b']}), encode_params('raw=1')
    ('q=caf%C3%A9&tag=a&tag=b', 'raw=1')
    """
    if not params:
        return ''
    if isinstance(params, str):
        return quote(params, safe=_QUERY_SAFE + '=&')
    return urlencode(_pairs(params), doseq=True)


def _pairs(
    fields: Mapping[str, Any] | Sequence[tuple[str, Any]],
) -> list[tuple[str, Any]]:
    items = fields.items() if isinstance(fields, Mapping) else fields
    return [(str(name), value) for name, value in items]


def merge_headers(*sources: HeaderInput | None) -> list[tuple[str, str]]:
    """Header pairs; a later source replaces an earlier one's headers of the same name.

    Within one source, repeated names are all kept.

    >>> merge_headers({'Accept': '*/*', 'X-A': '1'}, [('x-a', '2'), ('X-A', '3')])
    [('Accept', '*/*'), ('x-a', '2'), ('X-A', '3')]
    """
    merged: list[tuple[str, str]] = []
    for source in sources:
        if not source:
            continue
        items = list(source.items() if isinstance(source, Mapping) else source)
        replaced = {name.lower() for name, _ in items}
        merged = [(n, v) for n, v in merged if n.lower() not in replaced]
        merged.extend((str(name), str(value)) for name, value in items)
    return merged


def encode_body(
    *,
    json: Any = None,
    data: FormData | None = None,
    files: Mapping[str, FileField] | None = None,
) -> tuple[bytes | None, str | None]:
    """The body and its ``Content-Type`` for one of ``json=``, ``data=``, ``files=``.

    >>> encode_body(json={'a': 1})
    (b'{"a": 1}', 'application/json')
    >>> encode_body(data={'name': 'Zoë', 'tags': ['x', 'y']})
    (b'name=Zo%C3%AB&tags=x&tags=y', 'application/x-www-form-urlencoded')
    >>> encode_body(data=b'raw bytes')
    (b'raw bytes', None)
    >>> encode_body()
    (None, None)
    """
    if json is not None and (data is not None or files):
        raise TypeError('give json= or data=/files=, not both')
    if json is not None:
        return jsonlib.dumps(json).encode('utf-8'), 'application/json'
    if files:
        if isinstance(data, bytes | str):
            raise TypeError('files= goes with form fields in data=, not a raw body')
        return encode_multipart(_pairs(data or {}), files)
    if data is None:
        return None, None
    if isinstance(data, bytes):
        return data, None
    if isinstance(data, str):
        return data.encode('utf-8'), None
    form = urlencode(_pairs(data), doseq=True)
    return form.encode('ascii'), 'application/x-www-form-urlencoded'


def encode_multipart(
    fields: list[tuple[str, Any]], files: Mapping[str, FileField]
) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body, as a browser sends a form with files.

    >>> body, content_type = encode_multipart([('title', 'x')], {'doc': ('a.txt', b'hi')})
    >>> content_type.startswith('multipart/form-data; boundary=')
    True
    >>> b'filename="a.txt"' in body and b'\\r\\n\\r\\nhi\\r\\n' in body
    True
    """
    boundary = uuid.uuid4().hex
    chunks: list[bytes] = []
    for name, value in fields:
        for item in value if isinstance(value, list | tuple) else [value]:
            chunks.append(_part(boundary, name, None, None, _as_bytes(item)))
    for name, spec in files.items():
        rest: list[str] = []
        content: bytes | str
        if isinstance(spec, bytes):
            filename, content = name, spec
        else:
            filename, content, *rest = spec
        content_type = rest[0] if rest else 'application/octet-stream'
        chunks.append(_part(boundary, name, filename, content_type, _as_bytes(content)))
    chunks.append(f'--{boundary}--\r\n'.encode('ascii'))
    return b''.join(chunks), f'multipart/form-data; boundary={boundary}'


def _part(
    boundary: str,
    name: str,
    filename: str | None,
    content_type: str | None,
    content: bytes,
) -> bytes:
    disposition = f'form-data; name="{_quoted(name)}"'
    if filename is not None:
        disposition += f'; filename="{_quoted(filename)}"'
    head = f'--{boundary}\r\nContent-Disposition: {disposition}\r\n'
    if content_type is not None:
        head += f'Content-Type: {content_type}\r\n'
    return head.encode('utf-8') + b'\r\n' + content + b'\r\n'


def _quoted(value: str) -> str:
    # what browsers do in multipart names (WHATWG HTML, form submission)
    return value.replace('"', '%22').replace('\r', '%0D').replace('\n', '%0A')


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return str(value).encode('utf-8')
