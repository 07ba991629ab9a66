"""Stock Pyramid's router called inline from aiohttp: the floor of any Pyramid on aiohttp.

The handler builds the least WSGI environ Pyramid needs, runs the request
through Pyramid's own synchronous router on the event loop's thread, and
copies the response into an aiohttp one.  No server should do this (a view
that blocks stops the loop, there is no request body, no websocket, no
error handling), but it is what any Pyramid pipeline on aiohttp costs at
the least: what aiotao's worker is measured against.

* ``bench/instructions.py`` (``pyramid-inline``) serves :func:`inline_handler`
  on aiohttp's low-level server;
* ``bench/servers.py`` (``floor``) serves :func:`make_app` on
  ``aiohttp.GunicornWebWorker`` (``gunicorn pyramid_inline:make_app``): the
  endpoints of ``pyramid_sync.py`` that never block (``/sleep`` does: it
  is not served), routed by aiohttp.web like ``aiohttp_app.py``'s.
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

Handler = Callable[[web.BaseRequest], Awaitable[web.Response]]

#: The endpoints :func:`make_app` serves (``/sleep``'s view blocks its thread).
PATHS = ('/hello', '/json', '/page')


def inline_handler(router: Any) -> Handler:
    """An aiohttp handler running each request through Pyramid's ``router``."""

    async def handler(request: web.BaseRequest) -> web.Response:
        path, _, query = request.raw_path.partition('?')
        environ = {
            'REQUEST_METHOD': request.method,
            'SCRIPT_NAME': '',
            'PATH_INFO': path,
            'QUERY_STRING': query,
            'SERVER_NAME': '127.0.0.1',
            'SERVER_PORT': '80',
            'SERVER_PROTOCOL': 'HTTP/1.1',
            'wsgi.url_scheme': 'http',
            'wsgi.input': io.BytesIO(),
            'HTTP_HOST': request.headers.get('Host', ''),
        }
        with router.request_context(environ) as pyramid_request:
            response = router.invoke_request(pyramid_request)
        return web.Response(
            status=response.status_int,
            headers=response.headerlist,
            body=response.body,
        )

    return handler


async def make_app() -> web.Application:
    """The application, made in the worker (a coroutine: aiohttp's worker awaits it)."""
    from pyramid_sync import app as router

    handler = inline_handler(router)
    application = web.Application()
    application.add_routes([web.get(path, handler) for path in PATHS])
    return application
