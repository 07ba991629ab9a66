"""Calling a response (or any WSGI app) up to its status (aiotao.serving.responses)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pyramid.httpexceptions import HTTPNotFound
from pyramid.response import FileResponse, Response
from webob import Request

from aiotao.serving.responses import (
    InvalidResponse,
    parse_status,
    response_start,
    run_wsgi,
)
from aiotao.serving.streaming import BodyStream


def environ(path: str = '/', **kwargs: Any) -> dict[str, Any]:
    return Request.blank(path, **kwargs).environ  # type: ignore[no-any-return]


async def body_of(response: Any) -> bytes:
    stream = BodyStream(response)
    try:
        return b''.join([chunk async for chunk in stream])
    finally:
        await stream.aclose()


async def test_a_pyramid_response_keeps_every_set_cookie() -> None:
    response = Response('hi')
    response.set_cookie('a', '1')
    response.set_cookie('b', '2')
    started = run_wsgi(response, environ())
    assert started.start.status == 200 and started.start.reason == 'OK'
    cookies = [v for k, v in started.start.headers if k == 'Set-Cookie']
    assert [cookie.split(';')[0] for cookie in cookies] == ['a=1', 'b=2']
    assert await body_of(started) == b'hi'


async def test_an_http_exception_renders_its_body_when_called() -> None:
    started = run_wsgi(HTTPNotFound('no such page'), environ(accept='text/plain'))
    assert started.start.status == 404
    assert b'no such page' in await body_of(started)


async def test_head_keeps_content_length_and_has_no_body() -> None:
    started = run_wsgi(Response('x' * 50), environ(method='HEAD'))
    assert ('Content-Length', '50') in started.start.headers
    assert await body_of(started) == b''


async def test_conditional_responses_are_answered_by_the_response() -> None:
    response = Response('cached', conditional_response=True)
    response.etag = 'v1'
    started = run_wsgi(response, environ(headers={'If-None-Match': '"v1"'}))
    assert started.start.status == 304


async def test_a_file_response_is_an_iterator_read_in_blocks(tmp_path: Path) -> None:
    path = tmp_path / 'data.bin'
    path.write_bytes(bytes(range(256)) * 4096)  # 1 MiB: four 256 KiB blocks
    request = Request.blank('/')
    started = run_wsgi(FileResponse(str(path), request=request), request.environ)
    assert not isinstance(started.body, list | tuple)  # streamed, not loaded
    assert ('Content-Length', str(1024 * 1024)) in started.start.headers
    assert await body_of(started) == path.read_bytes()


def test_hop_by_hop_headers_are_dropped_and_connection_close_kept() -> None:
    start = response_start(
        '200 OK',
        [
            ('Content-Type', 'text/plain'),
            ('Transfer-Encoding', 'chunked'),
            ('Keep-Alive', 'timeout=5'),
            ('Connection', 'close'),
            ('Upgrade', 'h2c'),
        ],
    )
    assert start.headers == [('Content-Type', 'text/plain')]
    assert start.close_connection


@pytest.mark.parametrize(
    'status', ['OK', '20 Short', '200OK', '200 Bad\r\nX: y', '2000 Big', 200]
)
def test_invalid_statuses_are_refused(status: Any) -> None:
    with pytest.raises(InvalidResponse, match='invalid WSGI status'):
        parse_status(status)


def test_a_missing_reason_phrase_is_tolerated() -> None:
    assert parse_status('299 ') == (299, '')
    assert parse_status('204') == (204, '')


@pytest.mark.parametrize(
    'header',
    [('X-Bad', 'a\r\nSet-Cookie: evil=1'), ('X-Bad\n', 'a'), ('X:Y', 'a'), ('', 'a')],
)
def test_header_injection_is_refused(header: tuple[str, str]) -> None:
    with pytest.raises(InvalidResponse, match='cannot be sent'):
        response_start('200 OK', [header])


def test_a_header_name_seen_before_does_not_let_a_bad_value_through() -> None:
    # names already checked are remembered; values are checked every time
    assert response_start('200 OK', [('X-Seen', 'fine')]).headers == [
        ('X-Seen', 'fine')
    ]
    with pytest.raises(InvalidResponse, match='cannot be sent'):
        response_start('200 OK', [('X-Seen', 'a\r\nSet-Cookie: evil=1')])


def test_statuses_seen_before_parse_the_same() -> None:
    for _ in range(2):
        assert parse_status('418 I am a teapot') == (418, 'I am a teapot')
    with pytest.raises(InvalidResponse):
        parse_status('418 I am a teapot\r\nX: y')


def test_headers_must_be_strings() -> None:
    with pytest.raises(InvalidResponse, match='not a pair of strings'):
        response_start('200 OK', [('X-Bytes', b'value')])  # type: ignore[list-item]


StartResponse = Callable[..., Any]


async def test_a_lazy_app_may_call_start_response_on_first_iteration() -> None:
    closed = []

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            self.start_response('201 Created', [('X-Lazy', 'yes')])
            yield b'one'
            yield b'two'

        def close(self) -> None:
            closed.append(True)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Body:
        body = Body()
        body.start_response = start_response  # type: ignore[attr-defined]
        return body

    started = run_wsgi(app, environ())
    assert (started.start.status, started.start.headers) == (201, [('X-Lazy', 'yes')])
    assert await body_of(started) == b'onetwo'
    assert closed == [True]


async def test_write_callable_output_comes_first() -> None:
    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        write = start_response('200 OK', [])
        write(b'written, ')
        return [b'returned']

    assert await body_of(run_wsgi(app, environ())) == b'written, returned'


def test_exc_info_replaces_the_status_before_it_is_sent() -> None:
    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        start_response('200 OK', [])
        try:
            raise ValueError('oops')
        except ValueError:
            start_response('500 Internal Server Error', [], sys.exc_info())
        return [b'error page']

    assert run_wsgi(app, environ()).start.status == 500


def test_exc_info_after_the_head_was_sent_reraises() -> None:
    calls: list[StartResponse] = []

    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        calls.append(start_response)
        start_response('200 OK', [])
        return [b'body']

    run_wsgi(app, environ())
    try:
        raise KeyError('late')
    except KeyError:
        with pytest.raises(KeyError, match='late'):
            calls[0]('500 Internal Server Error', [], sys.exc_info())


def test_start_response_twice_without_exc_info_is_an_error() -> None:
    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        start_response('200 OK', [])
        start_response('404 Not Found', [])
        return []

    with pytest.raises(InvalidResponse, match='called twice'):
        run_wsgi(app, environ())


def test_an_app_that_never_starts_is_an_error_and_its_body_is_closed() -> None:
    closed = []

    class Body(list[bytes]):
        def close(self) -> None:
            closed.append(True)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Any:
        return Body([b'x'])

    with pytest.raises(InvalidResponse, match='without calling start_response'):
        run_wsgi(app, environ())
    assert closed == [True]


class _Recorded:
    """``start_response`` that keeps what it was given."""

    def __call__(self, status: str, headers: list[tuple[str, str]]) -> Any:
        self.status, self.headers = status, headers
        return None


@pytest.mark.parametrize(
    'make',
    [
        lambda: Response('plain'),
        lambda: Response(json_body={'a': 1}, headerlist=[('X-A', '1')]),
        lambda: Response(b'', status=204),
        lambda: Response('moved', status=302, location='/elsewhere?x=1'),
        lambda: Response(b'gone', status=301, headerlist=[('location', 'next')]),
    ],
)
async def test_a_plain_response_is_read_exactly_as_calling_it_would(
    make: Callable[[], Any],
) -> None:
    # run_wsgi reads a WebOb response instead of calling it; what it sends
    # must be what the call gives (a relative Location made absolute)
    env = environ('/shop/cart', base_url='http://example.com')
    called = _Recorded()
    body = b''.join(make()(dict(env), called))
    started = run_wsgi(make(), dict(env))
    assert started.start == response_start(called.status, called.headers)
    assert await body_of(started) == body
    if make().location:
        location = dict(started.start.headers).get('Location') or dict(
            started.start.headers
        ).get('location')
        assert location is not None and location.startswith('http://example.com/')
