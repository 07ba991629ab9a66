"""The async test client: the application in-process, served as aiotao's servers serve it.

No socket and no server process: each request is encoded as an HTTP client
would send it, turned into a WSGI environ by the servers' own code
(:mod:`aiotao.serving`: the same body limit, the same header rules), run
through the async pipeline, and its response produced as a server produces
it (called as a WSGI app, its body streamed, nothing sent for ``HEAD``)::

    from aiotao.testing import TestClient

    async def test_home(config):
        async with TestClient(config) as client:   # ServerStarted ... ServerStopping
            response = await client.post('/login', data={'name': 'alice'})
            assert response.status_int == 302
            response = await client.get('/me')      # the session cookie came back
            assert response.json == {'name': 'alice'}
            async with client.websocket_connect('/chat', origin='http://testserver') as ws:
                await ws.send_json({'text': 'hi'})
                assert (await ws.recv_json())['from'] == 'alice'

The requests go to ``http://testserver`` (``base_url=``) from
``127.0.0.1``.  An exception the application does not handle is raised in
the test (``raise_server_exceptions=False``: a 500, as a server answers).
"""

from __future__ import annotations

import base64
import logging
import os
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Any

from aiotao import lifecycle
from aiotao.serving.application import PyramidApplication, respond
from aiotao.serving.body import check_length, declared_length, empty_body, read_body
from aiotao.serving.environ import RequestHead, build_environ
from aiotao.serving.errors import ClientError, error_response
from aiotao.serving.responses import WSGIResponse
from aiotao.serving.settings import ServingSettings
from aiotao.serving.upgrade import is_websocket_upgrade
from aiotao.testing.cookies import CookieJar
from aiotao.testing.encoding import (
    URL,
    FileField,
    FormData,
    HeaderInput,
    Params,
    encode_body,
    merge_headers,
    resolve_url,
)
from aiotao.testing.loading import load_application
from aiotao.testing.responses import TestResponse, read_response
from aiotao.testing.websocket import (
    WebsocketRejected,
    WebsocketTestSession,
    open_session,
)
from aiotao.websocket.shutdown import open_connections

__all__ = ['TestClient', 'WebsocketConnect']

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = 'http://testserver'
#: Redirects a request follows at most with ``follow_redirects=True``.
MAX_REDIRECTS = 20
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
#: A request body reaches the server in chunks of this size.
_CHUNK = 64 * 1024
# what a websocket client library sends to open a connection (RFC 6455)
_HANDSHAKE_HEADERS = {
    'Upgrade': 'websocket',
    'Connection': 'Upgrade',
    'Sec-WebSocket-Version': '13',
}


class TestClient:
    """Send HTTP requests and open websockets to an application, in-process.

    ``app`` is a :class:`~pyramid.config.Configurator`, a Pyramid WSGI app,
    an :class:`~aiotao.router.AsyncRouter`, an ini path (``'test.ini'``,
    ``'test.ini#main'``) or any WSGI app (see
    :mod:`aiotao.testing.loading`); ``settings`` replace an ini's settings.

    >>> import asyncio
    >>> from pyramid.config import Configurator
    >>> config = Configurator(settings={})
    >>> config.include('aiotao')
    >>> config.add_route('hello', '/hello')
    >>> async def hello(request):
    ...     return {'hello': request.params.get('name', 'world')}
    >>> config.add_view(hello, route_name='hello', renderer='json')
    >>> async def main():
    ...     async with TestClient(config) as client:
    ...         response = await client.get('/hello', params={'name': 'you'})
    ...         return response.status_int, response.json
    >>> asyncio.run(main())
    (200, {'hello': 'you'})

    ``async with client:`` announces :class:`~aiotao.lifecycle.ServerStarted`
    on entry and, on exit, closes the websockets still open (1001) and
    announces :class:`~aiotao.lifecycle.ServerStopping`, as a server does:
    ``request.db``, schedules and groups start and stop as they do in
    production.  Without it, requests work, but nothing is started or
    released.
    """

    # a class named Test* in a test module must not be collected by pytest
    __test__ = False

    def __init__(
        self,
        app: Any,
        *,
        settings: Mapping[str, Any] | None = None,
        base_url: str = DEFAULT_BASE_URL,
        headers: HeaderInput | None = None,
        cookies: Mapping[str, str] | None = None,
        raise_server_exceptions: bool = True,
        remote_addr: str = '127.0.0.1',
    ) -> None:
        #: What is served (:class:`~aiotao.serving.application.PyramidApplication`
        #: or, for a plain WSGI app, its threaded counterpart).
        self.app = load_application(app, settings)
        #: The application's registry (``None`` for a plain WSGI app).
        self.registry = self.app.registry
        #: The serving settings, read from the app's ``aiotao.*`` settings.
        self.settings = ServingSettings.from_settings(
            self.registry.settings if self.registry is not None else None
        )
        self.base_url = base_url.rstrip('/')
        #: Headers sent with every request.
        self.headers = merge_headers({'User-Agent': 'aiotao-testclient'}, headers)
        #: The cookies kept between requests (see :class:`CookieJar`).
        self.cookies = CookieJar(self.base_url + '/')
        for name, value in (cookies or {}).items():
            self.cookies.set(name, value)
        self.raise_server_exceptions = raise_server_exceptions
        self.remote_addr = remote_addr
        self._started = False
        self._sessions: set[WebsocketTestSession] = set()

    def __repr__(self) -> str:
        return f'<TestClient {self.base_url} {self.app!r}>'

    # -- lifecycle -----------------------------------------------------------

    async def __aenter__(self) -> TestClient:
        if self._started:
            raise RuntimeError('this TestClient is started already')
        if self.registry is not None:
            await lifecycle.start(self.registry)
        self._started = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self._close_websockets()
        finally:
            self._started = False
            if self.registry is not None:
                await lifecycle.stop(self.registry)

    async def _close_websockets(self) -> None:
        """What a server does at shutdown: close this app's websockets with 1001."""
        if self.registry is None:
            return
        reason = 'server shutting down'
        mine = [
            connection
            for connection in open_connections()
            if getattr(getattr(connection, 'request', None), 'registry', None)
            is self.registry
        ]
        for connection in mine:
            connection.close_nowait(1001, reason)
        for connection in mine:
            await connection.close(1001, reason)
        for session in list(self._sessions):
            await session.wait_for_view(failing=True)
        self._sessions.clear()

    # -- HTTP ----------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        data: FormData | None = None,
        files: Mapping[str, FileField] | None = None,
        headers: HeaderInput | None = None,
        cookies: Mapping[str, str] | None = None,
        follow_redirects: bool = False,
    ) -> TestResponse:
        """Send one request; the response, with its body read.

        ``path`` is a path (``'/items?page=2'``) or a URL; ``params`` are
        added to its query.  The body is one of ``json=`` (any JSON value),
        ``data=`` (form fields as a mapping or pairs, or a raw ``bytes`` /
        ``str`` body) and ``files=`` (``{'field': ('name.txt', b'...',
        'text/plain')}``, sent as ``multipart/form-data`` with ``data``).
        ``cookies`` are sent with this request only, besides the jar's.
        Redirects are returned as they are, or followed with
        ``follow_redirects=True``.
        """
        method = method.upper()
        url = resolve_url(self.base_url, path, params)
        body, content_type = encode_body(json=json, data=data, files=files)
        response = await self._send(method, url, body, content_type, headers, cookies)
        for _ in range(MAX_REDIRECTS):
            location = response.headers.get('Location')
            if not follow_redirects or response.status_int not in _REDIRECTS:
                return response
            if location is None:
                return response
            status = response.status_int
            if (status == 303 and method != 'HEAD') or (
                status in (301, 302) and method == 'POST'
            ):
                # what browsers do: the redirected request is a GET
                method, body, content_type = 'GET', None, None
            url = resolve_url(str(url), location)
            response = await self._send(
                method, url, body, content_type, headers, cookies
            )
        raise RuntimeError(f'more than {MAX_REDIRECTS} redirects, the last to {url}')

    async def get(self, path: str, **kwargs: Any) -> TestResponse:
        """``GET path``; the keyword arguments are :meth:`request`'s."""
        return await self.request('GET', path, **kwargs)

    async def head(self, path: str, **kwargs: Any) -> TestResponse:
        """``HEAD path``: the headers of a ``GET``, no body."""
        return await self.request('HEAD', path, **kwargs)

    async def options(self, path: str, **kwargs: Any) -> TestResponse:
        return await self.request('OPTIONS', path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> TestResponse:
        """``POST path``, e.g. ``await client.post('/items', json={'name': 'x'})``."""
        return await self.request('POST', path, **kwargs)

    async def put(self, path: str, **kwargs: Any) -> TestResponse:
        return await self.request('PUT', path, **kwargs)

    async def patch(self, path: str, **kwargs: Any) -> TestResponse:
        return await self.request('PATCH', path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> TestResponse:
        return await self.request('DELETE', path, **kwargs)

    async def _send(
        self,
        method: str,
        url: URL,
        body: bytes | None,
        content_type: str | None,
        headers: HeaderInput | None,
        cookies: Mapping[str, str] | None,
    ) -> TestResponse:
        content: dict[str, str] = {}
        if body is not None:
            content['Content-Length'] = str(len(body))
        if content_type is not None:
            content['Content-Type'] = content_type
        head = self._head(method, url, [content, self.headers, headers], cookies)
        response = await self._serve(head, body or b'')
        self.cookies.extract(str(url), response.headers.getall('Set-Cookie'))
        return response

    def _head(
        self,
        method: str,
        url: URL,
        header_sources: list[HeaderInput | None],
        cookies: Mapping[str, str] | None,
    ) -> RequestHead:
        cookie = '; '.join(
            filter(
                None,
                [
                    self.cookies.header_for(str(url)),
                    *(f'{name}={value}' for name, value in (cookies or {}).items()),
                ],
            )
        )
        pairs = merge_headers(
            {'Host': url.host},
            {'Cookie': cookie} if cookie else None,
            *header_sources,
        )
        return RequestHead(
            method=method,
            raw_path=url.raw_path,
            query_string=url.query,
            headers=[
                (name.encode('latin-1'), value.encode('latin-1'))
                for name, value in pairs
            ],
            scheme=url.scheme,
            client=(self.remote_addr, 50000),
            server=url.server,
        )

    async def _serve(self, head: RequestHead, body: bytes) -> TestResponse:
        """What aiotao's worker does with a request, from the body on."""
        limit = self.settings.max_body_size
        try:
            check_length(declared_length(head.headers), limit)
            request_body = (
                await read_body(_chunks(body), limit) if body else empty_body()
            )
        except ClientError as exc:
            return await read_response(error_response(exc), head.method)
        try:
            try:
                environ = build_environ(head, request_body, self.settings)
            except ClientError as exc:
                return await read_response(error_response(exc), head.method)
            return await read_response(await self._respond(environ), head.method)
        finally:
            # a large body was spooled to a temporary file: release it now
            request_body.file.close()

    async def _respond(self, environ: dict[str, Any]) -> WSGIResponse:
        if self.raise_server_exceptions:
            return await self.app.respond(environ)
        return await respond(self.app, environ, log)

    # -- websockets ----------------------------------------------------------

    def websocket_connect(
        self,
        path: str,
        *,
        params: Params | None = None,
        headers: HeaderInput | None = None,
        cookies: Mapping[str, str] | None = None,
        origin: str | None = None,
        subprotocols: tuple[str, ...] | list[str] = (),
        timeout: float = 10.0,
    ) -> WebsocketConnect:
        """Open a websocket to ``path``: ``async with client.websocket_connect(path) as ws``.

        The handshake carries the jar's cookies, ``Origin: origin`` if given
        (a browser always sends one; without it the origin check lets the
        handshake through, see :mod:`aiotao.websocket.handshake`) and the
        ``subprotocols`` offered.  ``headers`` come last and replace the
        handshake's own, to send a malformed one.  ``timeout`` bounds the
        handshake, each ``recv()`` and the closing handshake.

        A refused handshake raises :exc:`~aiotao.testing.WebsocketRejected`
        with the HTTP response::

            with pytest.raises(WebsocketRejected) as refused:
                async with client.websocket_connect('/admin/feed'):
                    pass
            assert refused.value.response.status_int == 403
        """
        return WebsocketConnect(
            self, path, params, headers, cookies, origin, tuple(subprotocols), timeout
        )

    async def _open_websocket(self, connect: WebsocketConnect) -> WebsocketTestSession:
        url = resolve_url(self.base_url, connect.path, connect.params)
        handshake: dict[str, str] = {
            **_HANDSHAKE_HEADERS,
            'Sec-WebSocket-Key': _websocket_key(),
        }
        if connect.subprotocols:
            handshake['Sec-WebSocket-Protocol'] = ', '.join(connect.subprotocols)
        if connect.origin is not None:
            handshake['Origin'] = connect.origin
        head = self._head(
            'GET', url, [handshake, self.headers, connect.headers], connect.cookies
        )
        target = url.target
        if not isinstance(self.app, PyramidApplication) or not is_websocket_upgrade(
            head.headers
        ):
            # what a server does with it: serve it as plain HTTP
            raise WebsocketRejected(target, await self._serve(head, b''))
        try:
            environ = build_environ(head, empty_body(), self.settings)
        except ClientError as exc:
            raise WebsocketRejected(
                target, await read_response(error_response(exc), 'GET')
            ) from None
        session = await open_session(
            self.app,
            environ,
            target,
            timeout=connect.timeout,
            raise_server_exceptions=self.raise_server_exceptions,
            error_log=log,
        )
        self._sessions.add(session)
        return session


class WebsocketConnect:
    """What :meth:`TestClient.websocket_connect` returns: ``async with`` it."""

    def __init__(
        self,
        client: TestClient,
        path: str,
        params: Params | None,
        headers: HeaderInput | None,
        cookies: Mapping[str, str] | None,
        origin: str | None,
        subprotocols: tuple[str, ...],
        timeout: float,
    ) -> None:
        self.client = client
        self.path = path
        self.params = params
        self.headers = headers
        self.cookies = cookies
        self.origin = origin
        self.subprotocols = subprotocols
        self.timeout = timeout
        self.session: WebsocketTestSession | None = None

    async def __aenter__(self) -> WebsocketTestSession:
        self.session = await self.client._open_websocket(self)
        return self.session

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, self.session = self.session, None
        if session is not None:
            try:
                await session.aclose(failing=exc is not None)
            finally:
                self.client._sessions.discard(session)


def _websocket_key() -> str:
    return base64.b64encode(os.urandom(16)).decode('ascii')


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), _CHUNK):
        yield body[start : start + _CHUNK]
