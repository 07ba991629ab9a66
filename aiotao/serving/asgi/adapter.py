"""The application as an ASGI 3 application: uvicorn, hypercorn, gunicorn -k asgi.

::

    # myproject/asgi.py
    from aiotao.serving.asgi import load_asgi_app

    app = load_asgi_app('production.ini')     # or make_asgi_app(config)

    $ uvicorn myproject.asgi:app
    $ gunicorn -k asgi myproject.asgi:app

The same request and response conversion as aiotao's gunicorn worker
(:mod:`aiotao.serving`) and the same settings: the body limit (413), the mount
point (``root_path`` from the server, else ``aiotao.script_name``), trusted
``X-Forwarded-*`` headers (``aiotao.forwarded_allow_ips``), streamed
responses.  Scopes:

* ``http``: a Pyramid app runs on the server's loop through
  :class:`~aiotao.router.AsyncRouter`, any other WSGI app in threads; a
  client that disconnects cancels its view (``aiotao.cancel_on_disconnect``);
* ``websocket``: the handshake goes through the pipeline
  (:func:`~aiotao.serving.upgrade.run_upgrade`) with an
  :class:`~aiotao.serving.asgi.transport.AsgiWebsocketTransport`;
* ``lifespan``: startup sizes the thread pool (``aiotao.thread_pool_size``),
  runs :func:`aiotao.lifecycle.start` and starts the ini's
  ``[aiotao.server:NAME]`` servers (:mod:`aiotao.sidecars`; with
  :func:`load_asgi_app`, which knows the ini); shutdown stops those, closes
  websockets with 1001 and runs :func:`aiotao.lifecycle.stop`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

from pyramid.config import Configurator
from pyramid.response import Response

from aiotao import lifecycle
from aiotao.serving.application import (
    PyramidApplication,
    ServedApplication,
    respond,
    served_application,
)
from aiotao.serving.asgi.transport import AsgiWebsocketTransport
from aiotao.serving.body import check_length, declared_length, empty_body, read_body
from aiotao.serving.environ import RequestHead, build_environ
from aiotao.serving.errors import BodyTimeout, ClientError, error_response
from aiotao.serving.responses import WSGIResponse
from aiotao.serving.settings import ServingSettings
from aiotao.serving.streaming import BodyStream, may_have_body
from aiotao.serving.upgrade import close_all_websockets, refusal_body, run_upgrade
from aiotao.sidecars import IniServers

__all__ = ['AsgiApplication', 'load_asgi_app', 'make_asgi_app']

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_SCHEMES = {'ws': 'http', 'wss': 'https'}
#: Seconds the ini's servers get to finish their connections at shutdown
#: (ASGI tells the application no graceful timeout of its server).
INI_SERVERS_STOP_SECONDS = 10.0
# what quote() must leave alone to give back the path a server decoded
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


class ClientDisconnected(Exception):
    """The client left before its request body arrived."""


def make_asgi_app(
    app: Any, settings: Mapping[str, Any] | None = None
) -> AsgiApplication:
    """The ASGI application for a configurator, Pyramid app or WSGI app.

    >>> config = Configurator(settings={})
    >>> config.include('aiotao')
    >>> asgi_app = make_asgi_app(config)

    Serving settings are the Pyramid app's ``aiotao.*`` settings;
    ``settings`` (for a plain WSGI app, say) are read over them.
    """
    if isinstance(app, Configurator):
        app = app.make_wsgi_app()
    served = served_application(app)
    merged = dict(served.registry.settings or {}) if served.registry else {}
    merged.update(settings or {})
    return AsgiApplication(served, ServingSettings.from_settings(merged))


def load_asgi_app(config_uri: str, name: str = 'main') -> AsgiApplication:
    """Load the app of an ini (``[app:main]``), set up its logging, wrap it.

    ``gunicorn -k asgi "aiotao.serving.asgi:load_asgi_app('production.ini')"``
    works too, since gunicorn calls factories written this way.
    """
    from pyramid.paster import get_app, setup_logging

    setup_logging(config_uri)
    asgi_app = make_asgi_app(get_app(config_uri, name))
    asgi_app.ini_servers = IniServers.from_ini(config_uri.split('#', 1)[0])
    return asgi_app


def head_from_scope(scope: Scope) -> RequestHead:
    """A :class:`RequestHead` from an ASGI ``http`` or ``websocket`` scope."""
    raw_path = scope.get('raw_path')
    if raw_path:
        raw_path = raw_path.partition(b'?')[0]
    else:
        # the server gave only the decoded path: quote it back, so that
        # decoding it once more gives it unchanged
        raw_path = quote(scope['path'], safe=_PATH_SAFE).encode('ascii')
    client = scope.get('client')
    server = scope.get('server')
    scheme = scope.get('scheme') or 'http'
    return RequestHead(
        method=scope.get('method', 'GET'),
        raw_path=raw_path,
        query_string=scope.get('query_string', b''),
        headers=scope.get('headers', []),
        http_version=scope.get('http_version', '1.1'),
        scheme=_SCHEMES.get(scheme, scheme),
        client=(client[0], client[1]) if client else None,
        server=(server[0], server[1]) if server and server[1] is not None else None,
        root_path=scope.get('root_path', ''),
    )


class AsgiApplication:
    """An aiotao-served application behind the ASGI 3 interface."""

    def __init__(self, app: ServedApplication, settings: ServingSettings) -> None:
        self.app = app
        self.settings = settings
        self._executor: ThreadPoolExecutor | None = None
        #: The ini's servers, started and stopped by the lifespan.
        self.ini_servers = IniServers()
        #: The router that serves websocket scopes: only a Pyramid app has views
        #: that accept them.
        self._websocket_router = (
            app.router if isinstance(app, PyramidApplication) else None
        )

    def __repr__(self) -> str:
        return f'<AsgiApplication {self.app!r}>'

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope['type']
        if kind == 'http':
            await self.http(scope, receive, send)
        elif kind == 'websocket':
            await self.websocket(scope, receive, send)
        elif kind == 'lifespan':
            await self.lifespan(scope, receive, send)
        else:
            raise ValueError(f'aiotao: unsupported ASGI scope type {kind!r}')

    # -- http -------------------------------------------------------------

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        head = head_from_scope(scope)
        try:
            limit = self.settings.max_body_size
            check_length(declared_length(head.headers), limit)
            chunks = _body_chunks(receive, self.settings.body_timeout)
            body = await read_body(chunks, limit)
            environ = build_environ(head, body, self.settings)
        except ClientError as exc:
            await _send_response(send, error_response(exc), head.method)
            return
        except ClientDisconnected:
            return
        environ['asgi.scope'] = scope
        try:
            if self.settings.cancel_on_disconnect:
                response = await _unless_disconnected(
                    respond(self.app, environ), receive
                )
                if response is None:
                    return
            else:
                response = await respond(self.app, environ)
            await _send_response(send, response, head.method)
        finally:
            # a large body was spooled to a temporary file
            body.file.close()

    # -- websocket --------------------------------------------------------

    async def websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._websocket_router is None:
            # a plain WSGI app: refuse the handshake
            await receive()
            await send({'type': 'websocket.close', 'code': 1008})
            return
        transport = AsgiWebsocketTransport(scope, receive, send)
        head = head_from_scope(scope)
        try:
            environ = build_environ(head, empty_body(), self.settings)
        except ClientError as exc:
            await transport.reject(await _prepared(error_response(exc)))
            return
        environ['asgi.scope'] = scope
        refusal = await run_upgrade(self._websocket_router, environ, transport)
        if refusal is not None:
            await transport.reject(await _prepared(refusal))

    # -- lifespan ---------------------------------------------------------

    async def lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message['type'] == 'lifespan.startup':
                try:
                    await self.startup()
                except Exception as exc:
                    log.exception('aiotao: application startup failed')
                    await send({'type': 'lifespan.startup.failed', 'message': str(exc)})
                    return
                await send({'type': 'lifespan.startup.complete'})
            elif message['type'] == 'lifespan.shutdown':
                try:
                    await self.shutdown()
                except Exception as exc:
                    log.exception('aiotao: application shutdown failed')
                    await send(
                        {'type': 'lifespan.shutdown.failed', 'message': str(exc)}
                    )
                else:
                    await send({'type': 'lifespan.shutdown.complete'})
                return

    async def startup(self) -> None:
        """Size the thread pool, then notify :class:`~aiotao.lifecycle.ServerStarted`."""
        self._executor = ThreadPoolExecutor(
            self.settings.thread_pool_size, thread_name_prefix='aiotao-asgi'
        )
        asyncio.get_running_loop().set_default_executor(self._executor)
        if self.app.registry is not None:
            await lifecycle.start(self.app.registry)
        await self.ini_servers.start(self.app.registry)

    async def shutdown(self) -> None:
        """Stop the ini's servers, close websockets (1001), notify ServerStopping."""
        try:
            self.ini_servers.close()
            await close_all_websockets()
            await self.ini_servers.wait_closed(INI_SERVERS_STOP_SECONDS)
            if self.app.registry is not None:
                await lifecycle.stop(self.app.registry)
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)


async def _body_chunks(receive: Receive, timeout: float) -> AsyncIterator[bytes]:
    while True:
        try:
            async with asyncio.timeout(timeout):
                message = await receive()
        except TimeoutError:
            raise BodyTimeout(
                f'The request body stopped arriving for {timeout:g} seconds '
                f'(setting aiotao.body_timeout).'
            ) from None
        if message['type'] == 'http.disconnect':
            raise ClientDisconnected
        yield message.get('body', b'')
        if not message.get('more_body', False):
            return


async def _unless_disconnected(
    responding: Awaitable[WSGIResponse], receive: Receive
) -> WSGIResponse | None:
    """Await the response, or cancel it if the client disconnects first."""
    app_task = asyncio.ensure_future(responding)
    watcher = asyncio.ensure_future(_wait_for_disconnect(receive))
    try:
        await asyncio.wait({app_task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        # also on our own cancellation: nothing is left running behind us
        watcher.cancel()
        if not app_task.done():
            app_task.cancel()
            # let the pipeline's finally blocks (finished callbacks) run
            await asyncio.wait({app_task})
    if app_task.cancelled():
        return None
    return app_task.result()


async def _wait_for_disconnect(receive: Receive) -> None:
    while (await receive())['type'] != 'http.disconnect':
        pass


async def _send_response(send: Send, response: WSGIResponse, method: str) -> None:
    start = response.start
    await send(
        {
            'type': 'http.response.start',
            'status': start.status,
            'headers': [
                (name.lower().encode('latin-1'), value.encode('latin-1'))
                for name, value in start.headers
            ],
        }
    )
    stream = BodyStream(response, send_body=may_have_body(method, start.status))
    try:
        async for chunk in stream:
            await send({'type': 'http.response.body', 'body': chunk, 'more_body': True})
        await send({'type': 'http.response.body', 'body': b'', 'more_body': False})
    except OSError:
        pass  # the client went away; the server knows
    finally:
        await stream.aclose()


async def _prepared(response: WSGIResponse) -> Response:
    """A WSGI response as a complete Pyramid response (a handshake refusal)."""
    body = await refusal_body(response)
    start = response.start
    prepared = Response(status=f'{start.status} {start.reason}'.rstrip(), body=body)
    prepared.headerlist = list(start.headers)
    return prepared
