"""The response side: a WSGI response object or application, called once.

A Pyramid response is a WSGI application: calling it with the environ is
what renders an HTTP exception's body, answers ``HEAD`` with headers only,
and serves conditional and range requests.  Servers therefore call the
pipeline's response exactly as a WSGI server would, with :func:`run_wsgi`,
and get back a :class:`WSGIResponse`: the status and headers to send, and the
body iterable, still unread, so that it can be streamed::

    response = await router.handle(environ)
    wsgi_response = run_wsgi(response, environ)
    send_head(wsgi_response.start)
    # then stream wsgi_response.body (see aiotao.serving.streaming)

Plain WSGI applications go through the same function (in a worker thread).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol

from webob import Response as WebObResponse

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
Environ = dict[str, Any]


class StartResponse(Protocol):
    def __call__(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: ExcInfo | None = None,
        /,
    ) -> Callable[[bytes], object]: ...


WSGIApplication = Callable[[Environ, StartResponse], Iterable[bytes]]

#: Headers about one connection, not the message (RFC 9110 section 7.6.1):
#: the server frames the response itself, so an application's are dropped.
HOP_BY_HOP_HEADERS = frozenset(
    {
        'connection',
        'keep-alive',
        'proxy-authenticate',
        'proxy-authorization',
        'proxy-connection',
        'te',
        'trailer',
        'transfer-encoding',
        'upgrade',
    }
)

# CR, LF and NUL would let a header value start a new header or response.
_UNSAFE_HEADER_CHARS = re.compile('[\r\n\0]')
_STATUS = re.compile(r'([1-9][0-9]{2})(?: (.*))?\Z', re.DOTALL)

# Statuses and header names already checked, and their parsed forms:
# applications send the same few again and again.  The size bound keeps an
# application that makes names up from growing them.
_parsed_statuses: dict[str, tuple[int, str]] = {}
_lowered_names: dict[str, str] = {}
_KEPT = 512


#: WebOb's ``Response.__call__``: a response class that keeps it answers a
#: non-``HEAD``, unconditional request with its status, headers and body as
#: they are, so :func:`run_wsgi` reads them instead of calling it.
_WEBOB_CALL = WebObResponse.__call__


class InvalidResponse(ValueError):
    """The application produced a status or header that cannot be sent."""


@dataclass(slots=True)
class ResponseStart:
    """What the response head carries: status, reason, headers."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    #: The application asked for ``Connection: close``.
    close_connection: bool = False


@dataclass(slots=True)
class WSGIResponse:
    """A started response whose body has not been read yet.

    ``prefix`` holds chunks that were already produced when the status was
    known (``write()`` calls, or chunks an application yielded before
    calling ``start_response``); they are sent before ``body``.
    """

    start: ResponseStart
    body: Iterable[bytes] | AsyncIterable[bytes]
    prefix: list[bytes] = field(default_factory=list)


def parse_status(status: str) -> tuple[int, str]:
    """Split a WSGI status line.

    >>> parse_status('404 Not Found')
    (404, 'Not Found')
    """
    if isinstance(status, str):
        parsed = _parsed_statuses.get(status)
        if parsed is not None:
            return parsed
    match = _STATUS.match(status) if isinstance(status, str) else None
    if match is None or _UNSAFE_HEADER_CHARS.search(status):
        raise InvalidResponse(
            f'invalid WSGI status {status!r}: expected a string like "200 OK"'
        )
    parsed = int(match[1]), match[2] or ''
    _remember(_parsed_statuses, status, parsed)
    return parsed


def response_start(status: str, headers: Iterable[tuple[str, str]]) -> ResponseStart:
    """Check and clean what an application passed to ``start_response``.

    Every ``Set-Cookie`` is kept, in order.  Hop-by-hop headers are the
    server's business and are dropped; ``Connection: close`` is kept as
    :attr:`ResponseStart.close_connection`.

    >>> start = response_start('200 OK', [
    ...     ('Set-Cookie', 'a=1'), ('Set-Cookie', 'b=2'), ('Connection', 'close')])
    >>> start.headers, start.close_connection
    ([('Set-Cookie', 'a=1'), ('Set-Cookie', 'b=2')], True)
    """
    code, reason = parse_status(status)
    kept: list[tuple[str, str]] = []
    close_connection = False
    for name, value in headers:
        if not isinstance(name, str) or not isinstance(value, str):
            raise InvalidResponse(
                f'response header {name!r}: {value!r} is not a pair of strings'
            )
        lowered = _lowered_names.get(name)
        if lowered is None:
            if not name or _UNSAFE_HEADER_CHARS.search(name) or ':' in name:
                raise _unsafe_header(name, value)
            lowered = name.lower()
            _remember(_lowered_names, name, lowered)
        # three substring tests cost less than one regular expression call
        if '\r' in value or '\n' in value or '\0' in value:
            raise _unsafe_header(name, value)
        if lowered in HOP_BY_HOP_HEADERS:
            if lowered == 'connection' and 'close' in value.lower():
                close_connection = True
            continue
        kept.append((name, value))
    return ResponseStart(code, reason, kept, close_connection)


def _unsafe_header(name: str, value: str) -> InvalidResponse:
    return InvalidResponse(
        f'response header {name!r}: {value!r} contains a line break, '
        f'NUL or colon and cannot be sent'
    )


def _remember(cache: dict[str, Any], key: str, value: Any) -> None:
    if len(cache) >= _KEPT:
        cache.clear()
    cache[key] = value


def run_wsgi(app: WSGIApplication, environ: Environ) -> WSGIResponse:
    """Call a WSGI application (a Pyramid response is one) up to its status.

    Follows PEP 3333: the status may be set lazily, on the first iteration
    of the body; ``start_response`` may be called again with ``exc_info``
    until then, and re-raises the error once the head has been handed out.
    The body is returned unread.  A plain WebOb response (its own
    ``__call__``, not conditional, no ``Location`` to make absolute, not
    ``HEAD``) is read rather than called: the same status, headers and body.
    """
    if (
        type(app).__call__ is _WEBOB_CALL  # type: ignore[comparison-overlap]
        and not app.conditional_response  # type: ignore[attr-defined]
        and environ['REQUEST_METHOD'] != 'HEAD'
    ):
        start = _webob_start(app)
        if start is not None:
            return WSGIResponse(start, app.app_iter, [])  # type: ignore[attr-defined]
    call = _StartResponseCall()
    body = app(environ, call)
    if call.start is None:
        body, early_chunks = _iterate_until_started(body, call)
        call.written.extend(early_chunks)
    if call.start is None:
        _close(body)
        raise InvalidResponse(
            f'the WSGI application {app!r} returned without calling start_response'
        )
    call.head_sent = True
    return WSGIResponse(call.start, body, call.written)


def _webob_start(response: Any) -> ResponseStart | None:
    """What a plain WebOb response passes to ``start_response``, without the call.

    Its ``__call__`` (checked to be WebOb's own by the caller) would only
    rewrite a ``Location`` header: with one, ``None`` (call it instead).
    """
    headers = response.headerlist
    for name, _ in headers:
        if name.__class__ is str and len(name) == 8 and name.lower() == 'location':
            return None
    return response_start(response.status, headers)


class _StartResponseCall:
    """The ``start_response`` callable of one request, with PEP 3333 rules."""

    def __init__(self) -> None:
        self.start: ResponseStart | None = None
        self.written: list[bytes] = []
        self.head_sent = False

    def __call__(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: ExcInfo | None = None,
        /,
    ) -> Callable[[bytes], object]:
        if exc_info is not None:
            try:
                if self.head_sent:
                    # too late to change the status: the error goes on up
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None  # no reference cycle through the traceback
        elif self.start is not None:
            raise InvalidResponse('start_response was called twice without exc_info')
        self.start = response_start(status, headers)
        return self.written.append


def _iterate_until_started(
    body: Iterable[bytes], call: _StartResponseCall
) -> tuple[Iterable[bytes], list[bytes]]:
    """Pull chunks from a lazy application until it calls start_response."""
    iterator = iter(body)
    early: list[bytes] = []
    for chunk in iterator:
        early.append(chunk)
        if call.start is not None:
            break
    return _RestOf(iterator, body), early


class _RestOf(Iterable[bytes]):
    """The rest of an application's iterator; ``close()`` closes the original."""

    def __init__(self, iterator: Iterator[bytes], original: Iterable[bytes]) -> None:
        self._iterator = iterator
        self._original = original

    def __iter__(self) -> Iterator[bytes]:
        return self._iterator

    def close(self) -> None:
        _close(self._original)


def _close(body: object) -> None:
    close = getattr(body, 'close', None)
    if close is not None:
        close()
