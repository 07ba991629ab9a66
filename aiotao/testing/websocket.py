"""The test's end of a websocket: ``client.websocket_connect()``.

The server side is the real thing: the handshake runs through the
application's pipeline (route, predicates, ``permission=``, origin check)
and the view gets aiotao's own
:class:`~aiotao.websocket.connection.WebsocketConnection`, over an
in-memory transport (:mod:`aiotao.testing.memory_transport`).  The test
holds the other end, a :class:`WebsocketTestSession`::

    async with client.websocket_connect('/echo') as ws:
        await ws.send('hello')
        assert await ws.recv() == 'hello'

The server's close frame is answered at once, as a websocket client library
answers it; ``recv()`` then raises
:exc:`~aiotao.websocket.exceptions.ConnectionClosed` with the server's code
and reason (1000 when the view returned, 1011 when it raised, 1009 for a
message over ``aiotao.websocket.max_message_size``...).  A refused
handshake (403, 404, 400...) raises :exc:`WebsocketRejected` carrying the
HTTP response the pipeline answered with.
"""

from __future__ import annotations

import asyncio
import json
import logging
from types import TracebackType
from typing import Any

from aiotao.serving.application import ErrorLog, PyramidApplication, prepare_response
from aiotao.serving.errors import internal_error_response
from aiotao.testing.memory_transport import (
    ABNORMAL,
    Close,
    MemoryWebsocketTransport,
    Pipe,
)
from aiotao.testing.responses import TestResponse, read_response
from aiotao.websocket.connection import valid_close_code
from aiotao.websocket.exceptions import ConnectionClosed, WebsocketError
from aiotao.websocket.transport import TRANSPORT_ENVIRON_KEY

__all__ = ['WebsocketRejected', 'WebsocketTestSession', 'open_session']

log = logging.getLogger(__name__)

#: Close codes of a normal end; iterating a session stops quietly on them.
_NORMAL_CLOSES = frozenset({1000, 1001})


class WebsocketRejected(WebsocketError):
    """The application refused the websocket handshake with an HTTP response.

    >>> from aiotao.testing import TestResponse
    >>> refused = WebsocketRejected('/private', TestResponse(status='403 Forbidden'))
    >>> refused.status_int, str(refused)
    (403, 'the websocket handshake to /private was refused: 403 Forbidden')
    """

    def __init__(self, path: str, response: TestResponse) -> None:
        #: The HTTP response the pipeline answered the handshake with.
        self.response = response
        # the last line of a plain text error page says why (Pyramid's, and
        # aiotao's own refusals); an HTML page would only say "</html>"
        plain = response.content_type == 'text/plain' and response.body
        detail = response.text.strip().splitlines()[-1:] if plain else []
        message = f'the websocket handshake to {path} was refused: {response.status}'
        super().__init__(': '.join([message, *detail]))

    @property
    def status_int(self) -> int:
        """The refusal's HTTP status: 403, 404, 400..."""
        return int(self.response.status_int)


class WebsocketTestSession:
    """The test's end of a websocket; ``client.websocket_connect()`` opens it.

    Its API mirrors a websocket client library's (and aiotao's own ``ws``):
    ``send``, ``send_json``, ``recv``, ``recv_json``, ``close``, ``async
    for``.  Unlike the server's ``ws.recv()``, :meth:`recv` raises
    :exc:`~aiotao.websocket.exceptions.ConnectionClosed` once the server has
    closed, carrying its code and reason, so that a test can assert them::

        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.code == 1011
    """

    def __init__(
        self,
        path: str,
        pipe: Pipe,
        transport: MemoryWebsocketTransport,
        pipeline: asyncio.Task[Any],
        *,
        timeout: float,
        raise_server_exceptions: bool,
        error_log: ErrorLog,
    ) -> None:
        self.path = path
        #: Seconds :meth:`recv` waits for a message, and :meth:`close` for
        #: the server's close frame.
        self.timeout = timeout
        self._pipe = pipe
        self._transport = transport
        self._pipeline = pipeline
        self._raise_server_exceptions = raise_server_exceptions
        self._error_log = error_log
        self._close_sent = False
        self._received_close: Close | None = None

    def __repr__(self) -> str:
        state = 'closed' if self.closed else 'open'
        return f'<WebsocketTestSession {self.path} {state}>'

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the view agreed to, if any."""
        return self._transport.subprotocol

    @property
    def closed(self) -> bool:
        """``True`` once the server's close frame arrived (or the connection dropped)."""
        return self._received_close is not None

    @property
    def close_code(self) -> int | None:
        """The code of the server's close frame (1006: dropped without one)."""
        return self._received_close.code if self._received_close else None

    @property
    def close_reason(self) -> str:
        """The reason of the server's close frame."""
        return self._received_close.reason if self._received_close else ''

    # -- sending -------------------------------------------------------------

    async def send(self, data: str | bytes | bytearray | memoryview) -> None:
        """Send a text (``str``) or binary (``bytes``) message to the view.

        Raises :exc:`~aiotao.websocket.exceptions.ConnectionClosed` once the
        server has closed the connection, or this side has.
        """
        if isinstance(data, bytearray | memoryview):
            data = bytes(data)
        if not isinstance(data, str | bytes):
            raise TypeError(
                f'send() takes str or bytes, not {type(data).__name__}; use '
                f'send_json() for other objects'
            )
        self._check_open()
        self._pipe.to_server.put_nowait(data)
        # as a network write would, let the server side run
        await asyncio.sleep(0)

    async def send_json(self, obj: Any) -> None:
        """Send ``obj`` as a JSON text message."""
        await self.send(json.dumps(obj))

    def _check_open(self) -> None:
        pipe = self._pipe
        closed = self._received_close or pipe.server_close
        if closed is not None:
            raise ConnectionClosed(closed.code, closed.reason)
        if pipe.server_gone or pipe.client_gone:
            raise ConnectionClosed(ABNORMAL, '')
        if self._close_sent:
            raise ConnectionClosed(1000, 'the client is closing the connection')

    # -- receiving -----------------------------------------------------------

    async def recv(self, timeout: float | None = None) -> str | bytes:
        """The next message from the view, ``str`` or ``bytes``.

        Waits at most ``timeout`` seconds (default :attr:`timeout`) and then
        raises :exc:`TimeoutError`.  Raises
        :exc:`~aiotao.websocket.exceptions.ConnectionClosed` with the
        server's code and reason once the server has closed; messages sent
        before its close frame are received first.
        """
        if self._received_close is not None:
            raise ConnectionClosed(self.close_code or ABNORMAL, self.close_reason)
        wait = self.timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(wait):
                item = await self._pipe.to_client.get()
        except TimeoutError:
            raise TimeoutError(
                f'no message from the websocket view at {self.path} within {wait:g} s'
            ) from None
        if isinstance(item, Close):
            self._on_close_frame(item)
            raise ConnectionClosed(item.code, item.reason)
        self._pipe.taken_by_client(item)
        return item

    async def recv_json(self, timeout: float | None = None) -> Any:
        """The next message, decoded from JSON."""
        return json.loads(await self.recv(timeout))

    def __aiter__(self) -> WebsocketTestSession:
        return self

    async def __anext__(self) -> str | bytes:
        """Messages until the server closes normally (1000, 1001).

        Another close code (1011 for a failing view...) raises
        :exc:`~aiotao.websocket.exceptions.ConnectionClosed`.
        """
        try:
            return await self.recv()
        except ConnectionClosed as exc:
            if exc.code in _NORMAL_CLOSES:
                raise StopAsyncIteration from None
            raise

    def _on_close_frame(self, frame: Close) -> None:
        self._received_close = frame
        if not self._close_sent and frame.code != ABNORMAL:
            # a client answers a close frame with one of its own
            self._close_sent = True
            self._pipe.to_server.put_nowait(Close(frame.code, frame.reason))

    # -- closing -------------------------------------------------------------

    async def close(self, code: int = 1000, reason: str = '') -> None:
        """Close the connection and wait for the server's close frame.

        Messages still on their way are discarded.  If the server does not
        answer within :attr:`timeout` seconds the connection is dropped
        (the view sees code 1006).  Safe to call twice.
        """
        if not valid_close_code(code):
            raise ValueError(f'{code} is not a close code a client may send')
        if self._received_close is not None:
            return
        if not self._close_sent:
            self._close_sent = True
            self._pipe.to_server.put_nowait(Close(code, reason))
        try:
            async with asyncio.timeout(self.timeout):
                while True:
                    item = await self._pipe.to_client.get()
                    if isinstance(item, Close):
                        self._received_close = item
                        return
                    self._pipe.taken_by_client(item)
        except TimeoutError:
            self._drop()

    def _drop(self) -> None:
        """Drop the connection without a closing handshake."""
        pipe = self._pipe
        if not pipe.client_gone:
            pipe.client_gone = True
            pipe.to_server.put_nowait(Close(ABNORMAL, ''))
            pipe.drained.set()
        if self._received_close is None:
            self._received_close = Close(ABNORMAL, '')

    async def aclose(self, *, failing: bool = False) -> None:
        """Close (1000), then wait for the view to finish.

        The view gets ``aiotao.websocket.close_timeout`` seconds to return
        after the close; then its request is cancelled, as a server
        cancels it once the client is gone.  An exception that escaped the
        application's pipeline is raised here (logged instead when
        ``failing``, or with ``raise_server_exceptions=False``).
        """
        if not self.closed:
            await self.close()
        await self.wait_for_view(failing=failing)

    async def wait_for_view(self, *, failing: bool = False) -> None:
        """Wait for the request of this websocket to end (see :meth:`aclose`)."""
        pipeline = self._pipeline
        if not pipeline.done():
            linger = self._transport.limits.close_timeout
            await asyncio.wait({pipeline}, timeout=linger)
        if not pipeline.done():
            pipeline.cancel()
            await asyncio.wait({pipeline})
        if pipeline.cancelled():
            return
        error = pipeline.exception()
        if error is None:
            return
        if self._raise_server_exceptions and not failing:
            raise error
        self._error_log.exception(
            'Error handling websocket request %s', self.path, exc_info=error
        )

    async def __aenter__(self) -> WebsocketTestSession:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose(failing=exc is not None)


async def open_session(
    app: PyramidApplication,
    environ: dict[str, Any],
    path: str,
    *,
    timeout: float,
    raise_server_exceptions: bool,
    error_log: ErrorLog = log,
) -> WebsocketTestSession:
    """Run the handshake through the pipeline; the session once it is accepted.

    Raises :exc:`WebsocketRejected` when the pipeline answers with HTTP
    instead, as a server then sends that response.
    """
    pipe = Pipe()
    transport = MemoryWebsocketTransport(pipe, environ)
    environ[TRANSPORT_ENVIRON_KEY] = transport
    # the pipeline runs the whole session: it ends when the view does
    pipeline = asyncio.ensure_future(app.router.handle(environ))
    accepted = asyncio.ensure_future(transport.wait_accepted())
    try:
        done, _ = await asyncio.wait(
            {pipeline, accepted}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        accepted.cancel()
    if not done:
        pipeline.cancel()
        await asyncio.wait({pipeline})
        raise TimeoutError(
            f'the websocket handshake to {path} got no answer within {timeout:g} s'
        )
    session = WebsocketTestSession(
        path,
        pipe,
        transport,
        pipeline,
        timeout=timeout,
        raise_server_exceptions=raise_server_exceptions,
        error_log=error_log,
    )
    if transport.accepted:
        return session
    error = pipeline.exception()
    if error is None:
        refusal = prepare_response(pipeline.result(), environ, error_log)
    elif raise_server_exceptions:
        raise error
    else:
        error_log.exception('Error handling websocket request %s', path, exc_info=error)
        refusal = internal_error_response()
    raise WebsocketRejected(path, await read_response(refusal, 'GET'))
