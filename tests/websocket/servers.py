"""Real servers for websocket tests, in the test's event loop, on 127.0.0.1.

* ``aiohttp``: the request handler of aiotao's gunicorn worker
  (:class:`aiotao.serving.gunicorn.handler.AiohttpHandler`) on aiohttp's server,
  configured as the worker configures it: the worker's code, without the
  gunicorn process around it;
* ``asgi``: :mod:`aiotao.serving.asgi` under uvicorn;
* ``websockets``: the standalone server of ``aiotao serve-ws``
  (:class:`aiotao.serving.standalone.WebsocketServer`), on the
  ``websockets`` library's server, which serves no HTTP views: tests of
  HTTP behaviour are marked as not applying to it (``conftest.py``).

The same websocket tests run against all three (``servers`` fixture in
``conftest.py``).  The servers run in the test's own loop, so a test can
look at server-side state (the app's registry, open connections) directly.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from aiohttp import web

from aiotao.serving.application import served_application
from aiotao.serving.asgi import make_asgi_app
from aiotao.serving.gunicorn.handler import AiohttpHandler
from aiotao.serving.settings import ServingSettings
from aiotao.serving.standalone import WebsocketServer

SERVERS = ('aiohttp', 'asgi', 'websockets')


@dataclass(frozen=True)
class RunningServer:
    """A server that serves ``app`` until the test ends."""

    kind: str
    port: int
    app: Any

    @property
    def origin(self) -> str:
        return f'http://127.0.0.1:{self.port}'

    def ws(self, path: str) -> str:
        return f'ws://127.0.0.1:{self.port}{path}'

    def http(self, path: str) -> str:
        return f'{self.origin}{path}'

    @property
    def registry(self) -> Any:
        return self.app.registry


@asynccontextmanager
async def serve(kind: str, app: Any) -> AsyncIterator[RunningServer]:
    """Serve the Pyramid WSGI ``app`` with the ``kind`` of server."""
    if kind == 'aiohttp':
        serving = _serve_aiohttp(app)
    elif kind == 'asgi':
        serving = _serve_uvicorn(app)
    elif kind == 'websockets':
        serving = _serve_websockets(app)
    else:
        raise ValueError(f'unknown server kind {kind!r}; expected one of {SERVERS}')
    async with serving as port:
        yield RunningServer(kind, port, app)


@asynccontextmanager
async def _serve_aiohttp(app: Any) -> AsyncIterator[int]:
    settings = ServingSettings.from_settings(app.registry.settings)
    handler = AiohttpHandler(served_application(app), settings)
    server = web.Server(handler, handler_cancellation=settings.cancel_on_disconnect)
    loop = asyncio.get_running_loop()
    listener = await loop.create_server(server, '127.0.0.1', 0)
    try:
        yield listener.sockets[0].getsockname()[1]
    finally:
        listener.close()
        await server.shutdown(timeout=2)
        await listener.wait_closed()


@asynccontextmanager
async def _serve_websockets(app: Any) -> AsyncIterator[int]:
    server = WebsocketServer(app, '127.0.0.1', 0)
    await server.start()
    try:
        yield server.port
    finally:
        await server.stop(timeout=2)


@asynccontextmanager
async def _serve_uvicorn(app: Any) -> AsyncIterator[int]:
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        make_asgi_app(app),
        log_config=None,
        access_log=False,
        lifespan='on',
        timeout_graceful_shutdown=2,
        # aiotao's limit is the one under test: give uvicorn's room above it
        ws_max_size=64 * 1024 * 1024,
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if serving.done():
                serving.result()  # startup failed: say why
            await asyncio.sleep(0.01)
        yield port
    finally:
        server.should_exit = True
        await serving
        sock.close()
