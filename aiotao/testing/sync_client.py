"""The test client for synchronous tests (``unittest``, plain pytest functions).

:class:`SyncTestClient` has the methods of
:class:`~aiotao.testing.client.TestClient`, without ``await``.  The
application runs on an event loop of its own, in a thread, for as long as
the client is open: websocket views, groups and scheduled tasks keep
running between two calls of the test, as they do under a server::

    class ChatTests(unittest.TestCase):
        def setUp(self):
            self.client = self.enterContext(SyncTestClient(make_config()))

        def test_echo(self):
            self.assertEqual(self.client.get('/').status_int, 200)
            with self.client.websocket_connect('/echo') as ws:
                ws.send('hello')
                self.assertEqual(ws.recv(), 'hello')
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator, Mapping
from types import TracebackType
from typing import Any, TypeVar

from aiotao.testing.client import TestClient, WebsocketConnect
from aiotao.testing.cookies import CookieJar
from aiotao.testing.encoding import HeaderInput, Params
from aiotao.testing.responses import TestResponse
from aiotao.testing.websocket import WebsocketTestSession
from aiotao.websocket.exceptions import ConnectionClosed

__all__ = ['LoopThread', 'SyncTestClient', 'SyncWebsocketSession']

T = TypeVar('T')


class LoopThread:
    """An event loop running in a daemon thread; :meth:`call` runs coroutines on it.

    >>> async def answer():
    ...     return 42
    >>> loop_thread = LoopThread()
    >>> loop_thread.call(answer())
    42
    >>> loop_thread.stop()
    """

    def __init__(self, name: str = 'aiotao-testclient') -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the loop and wait for its result (or exception)."""
        if self._thread is not None and threading.current_thread() is self._thread:
            coroutine.close()
            raise RuntimeError('LoopThread.call() from its own loop would deadlock')
        loop = self._start()
        future = asyncio.run_coroutine_threadsafe(coroutine, loop)
        try:
            return future.result()
        except BaseException:
            # interrupted (Ctrl-C, a test timeout): do not leave it running
            future.cancel()
            raise

    def _start(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=self._run, args=(loop,), name=self.name, daemon=True
            )
            self._loop, self._thread = loop, thread
            thread.start()
        return self._loop

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            try:
                # what asyncio.run() does on its way out
                tasks = asyncio.all_tasks(loop)
                for task in tasks:
                    task.cancel()
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                asyncio.set_event_loop(None)
                loop.close()

    def stop(self) -> None:
        """Stop the loop (cancelling what still runs on it) and its thread."""
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join()


class SyncTestClient:
    """:class:`~aiotao.testing.client.TestClient` for code that does not ``await``.

    Takes the same arguments.  ``with SyncTestClient(app) as client:`` runs
    the lifecycle events, as ``async with`` does for the async client;
    without ``with``, call :meth:`close` at the end to stop the client's loop.

    >>> from pyramid.config import Configurator
    >>> config = Configurator(settings={})
    >>> config.include('aiotao')
    >>> with SyncTestClient(config) as client:
    ...     client.get('/nowhere').status_int
    404
    """

    __test__ = False

    def __init__(self, app: Any, **options: Any) -> None:
        self._loop_thread = LoopThread()
        #: The async client all calls go to (on the client's own loop).
        self.async_client = TestClient(app, **options)
        self._entered = False

    def __repr__(self) -> str:
        return f'<SyncTestClient {self.async_client.base_url}>'

    @property
    def cookies(self) -> CookieJar:
        return self.async_client.cookies

    @property
    def registry(self) -> Any:
        return self.async_client.registry

    def __enter__(self) -> SyncTestClient:
        self._loop_thread.call(self.async_client.__aenter__())
        self._entered = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._entered:
                self._entered = False
                self._loop_thread.call(self.async_client.__aexit__(exc_type, exc, tb))
        finally:
            self.close()

    def close(self) -> None:
        """Stop the client's loop; what still runs on it is cancelled."""
        self._loop_thread.stop()

    def request(self, method: str, path: str, **kwargs: Any) -> TestResponse:
        """See :meth:`TestClient.request <aiotao.testing.client.TestClient.request>`."""
        return self._loop_thread.call(self.async_client.request(method, path, **kwargs))

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request('GET', path, **kwargs)

    def head(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request('HEAD', path, **kwargs)

    def options(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request('OPTIONS', path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request('POST', path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request('PUT', path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request('PATCH', path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request('DELETE', path, **kwargs)

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
    ) -> SyncWebsocketSession:
        """``with client.websocket_connect(path) as ws:``; see the async client's."""
        connect = self.async_client.websocket_connect(
            path,
            params=params,
            headers=headers,
            cookies=cookies,
            origin=origin,
            subprotocols=subprotocols,
            timeout=timeout,
        )
        return SyncWebsocketSession(self._loop_thread, connect)


class SyncWebsocketSession:
    """:class:`~aiotao.testing.websocket.WebsocketTestSession` without ``await``."""

    def __init__(self, loop_thread: LoopThread, connect: WebsocketConnect) -> None:
        self._loop_thread = loop_thread
        self._connect = connect
        self._session: WebsocketTestSession | None = None

    def __enter__(self) -> SyncWebsocketSession:
        self._session = self._loop_thread.call(self._connect.__aenter__())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._loop_thread.call(self._connect.__aexit__(exc_type, exc, tb))

    @property
    def session(self) -> WebsocketTestSession:
        if self._session is None:
            raise RuntimeError('use the websocket in a "with" block')
        return self._session

    @property
    def subprotocol(self) -> str | None:
        return self.session.subprotocol

    @property
    def close_code(self) -> int | None:
        return self.session.close_code

    @property
    def close_reason(self) -> str:
        return self.session.close_reason

    def send(self, data: str | bytes) -> None:
        self._loop_thread.call(self.session.send(data))

    def send_json(self, obj: Any) -> None:
        self._loop_thread.call(self.session.send_json(obj))

    def recv(self, timeout: float | None = None) -> str | bytes:
        return self._loop_thread.call(self.session.recv(timeout))

    def recv_json(self, timeout: float | None = None) -> Any:
        return self._loop_thread.call(self.session.recv_json(timeout))

    def close(self, code: int = 1000, reason: str = '') -> None:
        self._loop_thread.call(self.session.close(code, reason))

    def __iter__(self) -> Iterator[str | bytes]:
        """Messages until the server closes normally (see the async session)."""
        while True:
            try:
                yield self.recv()
            except ConnectionClosed as exc:
                if exc.code in (1000, 1001):
                    return
                raise
