"""One interface over two ways of serving the test app, for the parity suite.

* ``client``: :class:`aiotao.testing.TestClient`, in-process;
* ``gunicorn``: a real gunicorn master with aiotao's worker, reached over
  TCP with aiohttp (HTTP, with its cookie jar) and ``websockets``.

Both give back :class:`~aiotao.testing.TestResponse` objects, raise
:exc:`~aiotao.testing.WebsocketRejected` for a refused handshake and
:exc:`~aiotao.websocket.ConnectionClosed` (code, reason) when the server
closes a websocket, so that one test body asserts the same thing of both.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Protocol

import aiohttp
import websockets
from websockets.asyncio.client import ClientConnection, connect
from yarl import URL

from aiotao.testing import TestClient, TestResponse, WebsocketRejected
from aiotao.websocket import ConnectionClosed
from tests.harness.gunicorn import ServerProcess


class Websocket(Protocol):
    subprotocol: str | None

    async def send(self, data: str | bytes) -> None: ...
    async def send_json(self, obj: Any) -> None: ...
    async def recv(self) -> str | bytes: ...
    async def recv_json(self) -> Any: ...
    async def close(self, code: int = 1000, reason: str = '') -> None: ...


class Served(Protocol):
    kind: str

    @property
    def request(self) -> Callable[..., Awaitable[TestResponse]]:
        """``await request(method, path, params=, json=, data=, files=, headers=)``"""

    @property
    def websocket(self) -> Callable[..., Any]:
        """``async with websocket(path, headers=, origin=, subprotocols=) as ws``"""

    def url(self, path: str) -> str: ...

    @property
    def origin(self) -> str: ...

    def cookie_names(self) -> list[str]: ...


class InProcess:
    """The app behind :class:`TestClient`."""

    kind = 'client'

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def url(self, path: str) -> str:
        return self.client.base_url + path

    @property
    def origin(self) -> str:
        return self.client.base_url

    def cookie_names(self) -> list[str]:
        return sorted(self.client.cookies)

    async def request(self, method: str, path: str, **kw: Any) -> TestResponse:
        return await self.client.request(method, path, **kw)

    def websocket(self, path: str, **kw: Any) -> Any:
        return self.client.websocket_connect(path, **kw)


class OverTCP:
    """The app behind a real gunicorn worker."""

    kind = 'gunicorn'

    def __init__(self, server: ServerProcess, session: aiohttp.ClientSession) -> None:
        self.server = server
        self.session = session

    def url(self, path: str) -> str:
        return self.server.url(path)

    @property
    def origin(self) -> str:
        return self.server.url('')

    def cookie_names(self) -> list[str]:
        return sorted({cookie.key for cookie in self.session.cookie_jar})

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        data: Any = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> TestResponse:
        body: Any = data
        if files:
            form = aiohttp.FormData()
            for name, value in (data or {}).items():
                form.add_field(name, value)
            for name, (filename, content, content_type) in files.items():
                form.add_field(
                    name, content, filename=filename, content_type=content_type
                )
            body = form
        async with self.session.request(
            method,
            self.server.url(path),
            params=params,
            json=json,
            data=body,
            headers=headers,
            allow_redirects=False,
        ) as response:
            content = await response.read()
            return TestResponse(
                status=f'{response.status} {response.reason}',
                headerlist=[
                    (name.decode('latin-1'), value.decode('latin-1'))
                    for name, value in response.raw_headers
                ],
                app_iter=[content],
            )

    @asynccontextmanager
    async def websocket(
        self,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        origin: str | None = None,
        subprotocols: tuple[str, ...] = (),
    ) -> AsyncIterator[RemoteWebsocket]:
        url = self.server.url(path, scheme='ws')
        cookies = self.session.cookie_jar.filter_cookies(URL(self.server.url(path)))
        cookie = '; '.join(f'{name}={m.value}' for name, m in cookies.items())
        extra = dict(headers or {})
        if cookie:
            extra['Cookie'] = cookie
        try:
            ws = await connect(
                url,
                origin=origin,  # type: ignore[arg-type]
                subprotocols=list(subprotocols) or None,  # type: ignore[arg-type]
                additional_headers=extra,
                compression=None,
                max_size=None,
                proxy=None,
            )
        except websockets.InvalidStatus as refused:
            reply = refused.response
            response = TestResponse(
                status=f'{reply.status_code} {reply.reason_phrase}',
                headerlist=list(reply.headers.raw_items()),
                app_iter=[reply.body or b''],
            )
            raise WebsocketRejected(path, response) from None
        try:
            yield RemoteWebsocket(ws)
        finally:
            await ws.close()


class RemoteWebsocket:
    """A ``websockets`` client connection, raising aiotao's ConnectionClosed."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.subprotocol = ws.subprotocol

    async def send(self, data: str | bytes) -> None:
        try:
            await self.ws.send(data)
        except websockets.ConnectionClosed as exc:
            raise closed(exc) from None

    async def send_json(self, obj: Any) -> None:
        import json

        await self.send(json.dumps(obj))

    async def recv(self) -> str | bytes:
        try:
            async with asyncio.timeout(10):
                return await self.ws.recv()
        except websockets.ConnectionClosed as exc:
            raise closed(exc) from None

    async def recv_json(self) -> Any:
        import json

        return json.loads(await self.recv())

    async def close(self, code: int = 1000, reason: str = '') -> None:
        await self.ws.close(code, reason)


def closed(exc: websockets.ConnectionClosed) -> ConnectionClosed:
    frame = exc.rcvd
    if frame is None:
        return ConnectionClosed(1006, '')
    return ConnectionClosed(frame.code, frame.reason)
