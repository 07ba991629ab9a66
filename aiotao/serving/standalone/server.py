"""Serving an application's websocket views alone, on the ``websockets`` server.

tranzit's ``WebSocketServer``, done the aiotao way: no HTTP server, the same
views and the same connection API as under aiotao's worker::

    $ aiotao serve-ws development.ini --port 6543

    # or from Python
    from aiotao.serving.standalone import serve_websockets

    asyncio.run(serve_websockets(config.make_wsgi_app(), '127.0.0.1', 6543))

Every handshake goes through the application's pipeline exactly as under
the worker (:mod:`aiotao.serving.standalone.transport` explains how):
routes and view predicates, permissions, the origin check (403 for a
foreign origin), the ``aiotao.websocket.*`` limits (a message over
``max_message_size`` closes with 1009; pings every ``ping_interval``).
What the server does not serve gets a clear status:

* a request that is not a websocket handshake: 426, with a message;
* a handshake for a path without a websocket view: the pipeline's 404 (or
  its 403...); a path served by an HTTP view: 404 too, since this server
  serves no HTTP views.

:class:`~aiotao.lifecycle.ServerStarted` and
:class:`~aiotao.lifecycle.ServerStopping` are notified at start and stop,
so ``request.db`` and other per-process clients work.  SIGTERM and SIGINT
stop gracefully: no new connections, every open one closed with 1001,
views given ``graceful_timeout`` seconds to end; a second signal ends them
at once.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from pyramid.config import Configurator
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request
from websockets.http11 import Response as HandshakeResponse

from aiotao import lifecycle
from aiotao.router import AsyncRouter
from aiotao.serving.application import PyramidApplication, served_application
from aiotao.serving.body import empty_body
from aiotao.serving.environ import RequestHead, build_environ, parse_target
from aiotao.serving.errors import ClientError, error_response
from aiotao.serving.responses import Environ, WSGIResponse
from aiotao.serving.settings import ServingSettings
from aiotao.serving.standalone.transport import WebsocketsTransport
from aiotao.serving.streaming import BodyStream
from aiotao.serving.upgrade import (
    GOING_AWAY,
    is_websocket_upgrade,
    refusal_body,
    run_upgrade,
)
from aiotao.websocket.config import get_settings

__all__ = ['WebsocketServer', 'serve_websockets']

log = logging.getLogger(__name__)

#: Seconds the views get to end after a stop signal.
DEFAULT_GRACEFUL_TIMEOUT = 30.0

NOT_AN_UPGRADE = (
    'This server (aiotao serve-ws) serves websocket views only: connect with '
    'a websocket client (a GET request with "Upgrade: websocket").\n'
)
NOT_A_WEBSOCKET_VIEW = (
    'No websocket view answers {path}: this server (aiotao serve-ws) serves '
    'websocket views only.\n'
)

_Session = asyncio.Task[Any]


def pyramid_application(app: Any) -> PyramidApplication:
    """The :class:`PyramidApplication` of a Configurator, router or WSGI app."""
    if isinstance(app, Configurator):
        app = app.make_wsgi_app()
    if isinstance(app, AsyncRouter):
        return PyramidApplication(app)
    served = served_application(app)
    if not isinstance(served, PyramidApplication):
        raise TypeError(
            f'{app!r} is not a Pyramid application: serving websockets alone '
            f'needs websocket views, which only a Pyramid app has'
        )
    return served


class WebsocketServer:
    """The websocket views of one application on a ``websockets`` server.

    >>> async def main(app):
    ...     async with WebsocketServer(app, '127.0.0.1', 0) as server:
    ...         print(f'serving on ws://127.0.0.1:{server.port}')
    ...         await asyncio.sleep(3600)
    """

    def __init__(self, app: Any, host: str = '127.0.0.1', port: int = 6543) -> None:
        self.app = pyramid_application(app)
        self.host = host
        self.requested_port = port
        registry = self.app.registry
        assert registry is not None
        self.registry = registry
        self.settings = ServingSettings.from_settings(registry.settings)
        self.limits = get_settings(registry).limits
        self._server: Server | None = None
        self._port: int | None = None
        self._handshakes: dict[
            ServerConnection, tuple[WebsocketsTransport, _Session]
        ] = {}
        self._sessions: set[_Session] = set()
        self._stopping = False

    @property
    def port(self) -> int:
        """The port listened on (the one chosen by the system for port 0)."""
        return self.requested_port if self._port is None else self._port

    async def start(self) -> None:
        """Bind, notify :class:`~aiotao.lifecycle.ServerStarted`, then serve.

        A taken port raises :exc:`OSError` before any subscriber ran.
        """
        self._server = await serve(
            self._handler,
            self.host,
            self.requested_port,
            process_request=self._process_request,
            process_response=self._process_response,
            select_subprotocol=self._select_subprotocol,
            max_size=self.limits.max_message_size,
            ping_interval=self.limits.ping_interval,
            ping_timeout=self.limits.ping_timeout,
            close_timeout=self.limits.close_timeout,
            write_limit=self.limits.write_buffer,
            logger=log,
            start_serving=False,
        )
        self._port = int(self._server.sockets[0].getsockname()[1])
        await lifecycle.start(self.registry)
        await self._server.start_serving()
        log.info(
            'aiotao: serving the websocket views of %r on ws://%s:%d',
            self.app,
            self.host,
            self.port,
        )

    async def stop(self, timeout: float = DEFAULT_GRACEFUL_TIMEOUT) -> None:
        """Stop: close every connection with 1001, wait up to ``timeout`` for views.

        Then :class:`~aiotao.lifecycle.ServerStopping` is notified.  Safe to
        call twice.
        """
        server = self._server
        if server is None or self._stopping:
            return
        self._stopping = True
        server.close(code=GOING_AWAY, reason='server shutting down')
        try:
            async with asyncio.timeout(max(0.0, timeout)):
                await server.wait_closed()
        except TimeoutError:
            log.warning('aiotao: websocket views still running; cancelling them')
            self.hurry()
            # a cancelled view gets close_timeout to clean up (the mapper's rule)
            waiting = asyncio.ensure_future(server.wait_closed())
            await asyncio.wait({waiting}, timeout=self.limits.close_timeout + 1)
            waiting.cancel()
        await lifecycle.stop(self.registry)

    def hurry(self) -> None:
        """Cancel the views still running and drop their connections."""
        for session in list(self._sessions):
            session.cancel()
        if self._server is not None:
            for connection in list(self._server.all_connections):
                connection.transport.abort()

    async def __aenter__(self) -> WebsocketServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- the handshake, through the pipeline -------------------------------

    async def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> HandshakeResponse | None:
        head = request_head(connection, request)
        if not is_websocket_upgrade(head.headers):
            refused = connection.respond(HTTPStatus.UPGRADE_REQUIRED, NOT_AN_UPGRADE)
            refused.headers['Upgrade'] = 'websocket'
            return refused
        try:
            environ = build_environ(head, empty_body(), self.settings)
        except ClientError as exc:
            return await handshake_response(error_response(exc))
        transport = WebsocketsTransport(connection, environ)
        session = asyncio.get_running_loop().create_task(
            self._run_pipeline(environ, transport)
        )
        self._sessions.add(session)
        session.add_done_callback(self._sessions.discard)
        accepting: asyncio.Future[Any] = transport.accept_requested
        await asyncio.wait({session, accepting}, return_when=asyncio.FIRST_COMPLETED)
        if transport.accept_requested.done():
            self._handshakes[connection] = (transport, session)
            session.add_done_callback(lambda _: self._handshakes.pop(connection, None))
            return None  # websockets completes the handshake: 101
        response = session.result()
        # not accepted (accept() asks first): the pipeline refused
        assert response is not None
        if 200 <= response.start.status < 300:
            await BodyStream(response).aclose()
            return connection.respond(
                HTTPStatus.NOT_FOUND,
                NOT_A_WEBSOCKET_VIEW.format(path=environ['PATH_INFO']),
            )
        return await handshake_response(response)

    async def _run_pipeline(
        self, environ: Environ, transport: WebsocketsTransport
    ) -> WSGIResponse | None:
        """The pipeline's refusal, or ``None`` once the accepted session ended."""
        return await run_upgrade(self.app.router, environ, transport)

    def _select_subprotocol(
        self, connection: ServerConnection, offered: Iterable[str]
    ) -> Any:
        handshake = self._handshakes.get(connection)
        return handshake[0].subprotocol if handshake is not None else None

    def _process_response(
        self,
        connection: ServerConnection,
        request: Request,
        response: HandshakeResponse,
    ) -> None:
        if response.status_code != HTTPStatus.SWITCHING_PROTOCOLS:
            handshake = self._handshakes.get(connection)
            if handshake is not None:
                handshake[0].refused(
                    f'the server answered {response.status_code} {response.reason_phrase}'
                )

    async def _handler(self, connection: ServerConnection) -> None:
        """Called once the 101 is sent: the view's accept() returns."""
        handshake = self._handshakes.get(connection)
        if handshake is None:
            return
        transport, session = handshake
        transport.opened()
        # the view's session; a cancelled or failed one ends this handler too
        await asyncio.wait({session})


def request_head(connection: ServerConnection, request: Request) -> RequestHead:
    """What websockets parsed, as a :class:`RequestHead`."""
    raw_path, query, authority = parse_target(request.path.encode('ascii'))
    peer = connection.remote_address
    local = connection.local_address
    return RequestHead(
        method='GET',  # websockets reads GET requests only
        raw_path=raw_path,
        query_string=query,
        headers=[
            (name.encode('latin-1'), value.encode('latin-1'))
            for name, value in request.headers.raw_items()
        ],
        http_version='1.1',
        scheme='http',
        client=(peer[0], peer[1]) if isinstance(peer, tuple) else None,
        server=(local[0], local[1]) if isinstance(local, tuple) else None,
        authority=authority,
    )


async def handshake_response(response: WSGIResponse) -> HandshakeResponse:
    """A refused handshake's WSGI response, as websockets sends responses."""
    body = await refusal_body(response)
    start = response.start
    headers = Headers(
        [
            (name, value)
            for name, value in start.headers
            if name.lower() != 'content-length'
        ]
    )
    headers['Content-Length'] = str(len(body))
    return HandshakeResponse(start.status, start.reason, headers, body)


async def serve_websockets(
    app: Any,
    host: str = '127.0.0.1',
    port: int = 6543,
    *,
    graceful_timeout: float = DEFAULT_GRACEFUL_TIMEOUT,
) -> None:
    """Serve ``app``'s websocket views until SIGTERM or SIGINT.

    ``app`` is a Pyramid WSGI app, a Configurator or an
    :class:`~aiotao.router.AsyncRouter`.  The first signal stops gracefully
    (1001 to every client, ``graceful_timeout`` for the views), a second
    one at once.
    """
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    quick = asyncio.Event()

    def on_signal() -> None:
        (quick if stopping.is_set() else stopping).set()

    signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        loop.add_signal_handler(sig, on_signal)
    try:
        server = WebsocketServer(app, host, port)
        await server.start()
        await stopping.wait()
        log.info('aiotao: stopping; closing websockets with 1001')
        stop = asyncio.ensure_future(server.stop(graceful_timeout))
        hurry = asyncio.ensure_future(quick.wait())
        await asyncio.wait({stop, hurry}, return_when=asyncio.FIRST_COMPLETED)
        if not stop.done():
            server.hurry()
        hurry.cancel()
        await stop
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
