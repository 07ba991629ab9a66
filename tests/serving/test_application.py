"""Choosing how to run an app, 500s, and cancellation (aiotao.serving.application)."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import URLDecodeError
from pyramid.response import Response
from webob import Request

from aiotao.serving.application import (
    PyramidApplication,
    ThreadedWSGIApplication,
    respond,
    served_application,
)
from aiotao.serving.errors import RequestBodyTooLarge, error_response
from aiotao.serving.streaming import BodyStream


async def body_of(response: Any) -> bytes:
    stream = BodyStream(response)
    try:
        return b''.join([chunk async for chunk in stream])
    finally:
        await stream.aclose()


def test_a_pyramid_app_is_served_natively_anything_else_in_threads(
    config: Configurator,
) -> None:
    assert isinstance(served_application(config.make_wsgi_app()), PyramidApplication)
    plain = served_application(lambda environ, start_response: [])
    assert isinstance(plain, ThreadedWSGIApplication)
    assert plain.registry is None
    with pytest.raises(TypeError, match='neither a Pyramid nor a WSGI application'):
        served_application(42)


async def test_a_plain_wsgi_app_is_called_in_a_thread() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [threading.current_thread().name.encode()]

    response = await served_application(app).respond(Request.blank('/').environ)
    assert await body_of(response) != threading.current_thread().name.encode()


async def test_an_unhandled_error_is_logged_and_becomes_a_500(
    config: Configurator, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(request: Any) -> Any:
        raise RuntimeError('the database is on fire')

    config.add_route('broken', '/broken')
    config.add_view(broken, route_name='broken')
    app = served_application(config.make_wsgi_app())
    with caplog.at_level(logging.ERROR):
        response = await respond(app, Request.blank('/broken').environ)
    assert response.start.status == 500
    body = await body_of(response)
    assert b'unexpected error' in body and b'fire' not in body
    assert 'Error handling request GET /broken' in caplog.text
    assert 'RuntimeError: the database is on fire' in caplog.text


async def test_cancellation_reaches_the_server_and_finished_callbacks_run(
    config: Configurator,
) -> None:
    seen: list[str] = []
    started = asyncio.Event()

    async def waiting(request: Any) -> Any:
        request.add_finished_callback(lambda request: seen.append('finished'))
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            seen.append('cancelled')
            raise

    config.add_route('waiting', '/waiting')
    config.add_view(waiting, route_name='waiting')
    app = served_application(config.make_wsgi_app())
    task = asyncio.ensure_future(respond(app, Request.blank('/waiting').environ))
    await started.wait()
    task.cancel()  # what aiohttp does when the client disconnects
    with pytest.raises(asyncio.CancelledError):
        await task  # not swallowed, not turned into a 500
    assert seen == ['cancelled', 'finished']


async def test_refused_requests_close_the_connection() -> None:
    response = error_response(RequestBodyTooLarge('too big'))
    assert response.start.status == 413
    assert response.start.close_connection
    assert ('Content-Type', 'text/plain; charset=utf-8') in response.start.headers
    assert await body_of(response) == b'413 Request Entity Too Large\n\ntoo big\n'


NOT_UTF8_PATHS = ['/hello%ff', '/files/%c0%ae%c0%ae/etc/passwd', '/tree/%ff']


def url_decoding_app(config: Configurator) -> Configurator:
    """Routes, a ``*subpath`` and traversal: the ways a path gets decoded."""

    class Root(dict[str, Any]):
        pass

    config.add_route('hello', '/hello')
    config.add_route('files', '/files/*subpath')
    config.add_route('tree', '/tree/*traverse', factory=lambda request: Root())
    for name in ('hello', 'files', 'tree'):
        config.add_view(lambda request: 'ok', route_name=name, renderer='string')
    return config


@pytest.mark.parametrize('path', NOT_UTF8_PATHS)
async def test_a_path_that_is_not_utf8_gets_400_and_one_info_line(
    config: Configurator, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    app = served_application(url_decoding_app(config).make_wsgi_app())
    with caplog.at_level(logging.INFO, logger='aiotao'):
        response = await respond(app, Request.blank(path).environ)
    assert response.start.status == 400
    assert not response.start.close_connection  # the framing was fine
    assert b'not UTF-8 once percent-decoded' in await body_of(response)
    [record] = caplog.records
    assert record.levelno == logging.INFO and not record.exc_info
    assert '400 Bad Request for GET' in record.getMessage()


async def test_an_exception_view_for_undecodable_paths_still_answers(
    config: Configurator,
) -> None:
    def not_found(exc: URLDecodeError, request: Any) -> Any:
        return Response('no such page', status=404)

    url_decoding_app(config).add_exception_view(not_found, context=URLDecodeError)
    app = served_application(config.make_wsgi_app())
    response = await respond(app, Request.blank('/hello%ff').environ)
    assert response.start.status == 404
    assert await body_of(response) == b'no such page'


async def test_a_wrapped_pyramid_app_gets_400_for_a_path_that_is_not_utf8(
    config: Configurator,
) -> None:
    pyramid_app = url_decoding_app(config).make_wsgi_app()

    def middleware(environ: dict[str, Any], start_response: Any) -> Any:
        return pyramid_app(environ, start_response)

    app = served_application(middleware)
    assert isinstance(app, ThreadedWSGIApplication)
    response = await respond(app, Request.blank('/hello%ff').environ)
    assert response.start.status == 400
