"""The bridge between aiohttp's low-level server and the application.

:class:`AiohttpHandler` is the ``handler`` of an ``aiohttp.web.Server``: it
turns each aiohttp request into a WSGI environ (:mod:`aiotao.serving`),
awaits the application and streams its response back.  It moves bytes and
nothing else, so it serves the same way under gunicorn or in a test::

    handler = AiohttpHandler(served_application(wsgi_app), ServingSettings())
    server = aiohttp.web.Server(handler, handler_cancellation=True)
    await loop.create_server(server, '127.0.0.1', 8080)

Websocket upgrades go through the normal pipeline
(:func:`~aiotao.serving.upgrade.run_upgrade`) with an
:class:`~aiotao.serving.gunicorn.transport.AiohttpWebsocketTransport`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from time import monotonic
from typing import Any

from aiohttp import HttpVersion10, HttpVersion11, StreamReader, web
from aiohttp.http_exceptions import HttpProcessingError

from aiotao.serving.admission import TRY_AGAIN_LATER, Admission
from aiotao.serving.application import (
    ErrorLog,
    PyramidApplication,
    ServedApplication,
    log_failure,
    respond,
)
from aiotao.serving.body import (
    RequestBody,
    check_length,
    declared_length,
    empty_body,
    read_body,
)
from aiotao.serving.environ import RequestHead, build_environ, parse_target
from aiotao.serving.errors import (
    BadRequest,
    BodyTimeout,
    ClientError,
    error_response,
    internal_error_response,
    overloaded_response,
    unhandled_request_error,
)
from aiotao.serving.gunicorn.transport import AiohttpWebsocketTransport
from aiotao.serving.responses import Environ, WSGIResponse, run_wsgi
from aiotao.serving.settings import ServingSettings
from aiotao.serving.streaming import BodyStream, may_have_body
from aiotao.serving.upgrade import is_websocket_upgrade, run_upgrade

log = logging.getLogger(__name__)

#: ``access_log(status, sent_bytes, response_headers, request, environ, seconds)``
AccessLog = Callable[
    [int, int, list[tuple[str, str]], web.BaseRequest, Environ, float], None
]

_CONTINUE = b'HTTP/1.1 100 Continue\r\n\r\n'
_HTTP_VERSIONS = {HttpVersion11: '1.1', HttpVersion10: '1.0'}


def request_head(request: web.BaseRequest) -> RequestHead:
    """What aiohttp parsed, as a :class:`RequestHead` (raw bytes kept)."""
    # aiohttp decoded the target as UTF-8 with surrogateescape: undo it
    target = request.raw_path.encode('utf-8', 'surrogateescape')
    authority = None
    if target.startswith(b'/'):  # origin form, as sent to servers
        raw_path, _, query = target.partition(b'?')
    else:
        raw_path, query, authority = parse_target(target)
    transport = request.transport
    peer = transport.get_extra_info('peername') if transport else None
    sock = transport.get_extra_info('sockname') if transport else None
    version = request.version
    http_version = _HTTP_VERSIONS.get(version) or f'{version.major}.{version.minor}'
    return RequestHead(
        method=request.method,
        raw_path=raw_path,
        query_string=query,
        headers=request.raw_headers,
        http_version=http_version,
        scheme=request.scheme,
        client=(peer[0], peer[1]) if isinstance(peer, tuple) else None,
        server=(sock[0], sock[1]) if isinstance(sock, tuple) else None,
        authority=authority,
    )


class AiohttpHandler:
    """Serve one aiohttp request with the application."""

    def __init__(
        self,
        app: ServedApplication,
        settings: ServingSettings,
        *,
        error_log: ErrorLog = log,
        access_log: AccessLog | None = None,
        keep_alive: bool = True,
        admission: Admission | None = None,
    ) -> None:
        self.app = app
        #: What the worker admits (:mod:`aiotao.serving.admission`).
        self.admission = admission
        self.settings = settings
        self.error_log = error_log
        self.access_log = access_log
        #: ``False``: every connection closes after its response (gunicorn's
        #: ``keepalive = 0``).
        self.keep_alive = keep_alive
        #: The requests being served now (their tasks), for shutdown.
        self.in_flight: set[asyncio.Task[Any]] = set()
        #: The Pyramid application's router, called without going through
        #: :func:`~aiotao.serving.application.respond`; it alone serves
        #: websocket upgrades (a plain WSGI app gets them as HTTP requests).
        self.router = app.router if isinstance(app, PyramidApplication) else None

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        # One coroutine for the whole common path: every await of another
        # coroutine costs each request its frame and its round trip.
        task = asyncio.current_task()
        assert task is not None
        in_flight = self.in_flight
        in_flight.add(task)
        try:
            started = monotonic()
            head = request_head(request)
            admission = self.admission
            if admission is not None and admission.refuses(request.protocol):
                return await self._refuse(request, head, admission, started)
            try:
                length = declared_length(request.raw_headers)
                check_length(length, self.settings.max_body_size)
                if length == 0 or not request.body_exists:
                    body = empty_body()
                else:
                    body = await self._read_body(request)
                environ = build_environ(head, body, self.settings)
            except ClientError as exc:
                environ = _refused_environ(head)
                reply = await self._send(request, environ, error_response(exc), started)
                await self._linger(request, reply)
                return reply
            except ConnectionError:
                # the client left while sending its body: no one to answer, and
                # aiohttp drops the connection quietly when this is written
                return web.Response(status=400)
            try:
                if self.router is not None and (
                    # the environ tells cheaply whether an Upgrade header came
                    'HTTP_UPGRADE' in environ
                    and is_websocket_upgrade(request.raw_headers)
                ):
                    return await self._websocket(request, environ, started)
                router = self.router
                if router is None:
                    response = await respond(self.app, environ, self.error_log)
                else:
                    # respond(), inlined for the Pyramid application
                    try:
                        response = run_wsgi(await router.handle(environ), environ)
                    except Exception as exc:
                        refused = unhandled_request_error(exc, environ)
                        if refused is None:
                            log_failure(self.error_log, environ)
                        response = refused or internal_error_response()
                if isinstance(response.body, list | tuple):
                    return self._send_in_memory(request, environ, response, started)
                return await self._send(request, environ, response, started)
            finally:
                # a large body was spooled to a temporary file
                body.file.close()
        finally:
            in_flight.discard(task)

    async def _refuse(
        self,
        request: web.BaseRequest,
        head: RequestHead,
        admission: Admission,
        started: float,
    ) -> web.StreamResponse:
        """Refuse new work: a 503 with Retry-After, or a websocket closed with 1013."""
        environ = _refused_environ(head)
        over_limit = admission.over_limit(request.protocol)
        if not over_limit and is_websocket_upgrade(request.raw_headers):
            # accepted and closed at once: a browser sees the 1013, not a 503
            ws = web.WebSocketResponse()
            try:
                await ws.prepare(request)
                await ws.close(
                    code=TRY_AGAIN_LATER,
                    message=b'try again later: the server is overloaded',
                )
            except (ConnectionError, web.HTTPException):
                pass
            else:
                admission.refused_websockets += 1
                if self.access_log is not None:
                    self.access_log(101, 0, [], request, environ, monotonic() - started)
                return ws
        admission.refused_requests += 1
        if over_limit:
            message = (
                'The server has all the connections it takes (gunicorn '
                'worker_connections); try again later.'
            )
        else:
            message = 'The server is overloaded; try again later.'
        response = overloaded_response(message, admission.settings.retry_after)
        reply = await self._send(request, environ, response, started)
        await self._linger(request, reply)
        return reply

    def cancel_in_flight(self) -> None:
        """Cancel every request being served (shutdown)."""
        for task in self.in_flight:
            task.cancel()

    async def _read_body(self, request: web.BaseRequest) -> RequestBody:
        """The body a request announced (its length was checked already)."""
        limit = self.settings.max_body_size
        if (
            request.version >= (1, 1)
            and request.headers.get('Expect', '').lower() == '100-continue'
        ):
            # the client waits for this before sending the body it announced
            await request.writer.write(_CONTINUE)
            request.writer.output_size = 0
        chunks = _arriving(request.content, self.settings.body_timeout)
        try:
            return await read_body(chunks, limit)
        except (web.RequestPayloadError, HttpProcessingError) as exc:
            # framing broken after the headers, e.g. a bad chunk size
            raise BadRequest(f'The request body is malformed: {exc}') from None

    async def _linger(
        self, request: web.BaseRequest, reply: web.StreamResponse
    ) -> None:
        """Send a refusal now, let the client read it, then close the connection.

        A client may still be sending the body the refusal is about.
        Closing at once with unread bytes makes the kernel reset the
        connection, and the client may lose the refusal; so the worker reads
        and drops what still comes, at most ``aiotao.linger_size`` bytes,
        and keeps the connection at most ``aiotao.linger_time`` seconds in
        all.  (aiohttp's own lingering, which this replaces, reads whatever
        arrives in 10 s: gigabytes on a fast link, for a client announcing
        an endless body.)  Once the bytes are used up, reading stops: the
        client's sending stalls while it reads the refusal, and the worker
        holds no more than aiohttp's read buffer.
        """
        content = request.content
        if not request.body_exists or content.is_eof():
            return
        try:
            await reply.prepare(request)
            await reply.write_eof()
        except ConnectionError:
            return
        left = self.settings.linger_size
        try:
            async with asyncio.timeout(self.settings.linger_time):
                while left > 0:
                    chunk = await content.readany()
                    if not chunk:
                        return  # the body ended: aiohttp closes as usual
                    left -= len(chunk)
                await asyncio.sleep(self.settings.linger_time)  # out of bytes
        except (TimeoutError, OSError, web.RequestPayloadError, HttpProcessingError):
            pass  # the time is up, or the body or the connection broke
        # closed now, so that aiohttp does not linger in its turn
        request.protocol.force_close()

    async def _send(
        self,
        request: web.BaseRequest,
        environ: Environ,
        response: WSGIResponse,
        started: float,
    ) -> web.StreamResponse:
        if isinstance(response.body, list | tuple):
            return self._send_in_memory(request, environ, response, started)
        send_body = may_have_body(request.method, response.start.status)
        reply = await self._stream(request, response, send_body)
        return self._finish(request, environ, response, reply, send_body, started)

    def _send_in_memory(
        self,
        request: web.BaseRequest,
        environ: Environ,
        response: WSGIResponse,
        started: float,
    ) -> web.StreamResponse:
        """A body in memory already (WebOb's usual): head and body in one go."""
        start = response.start
        send_body = may_have_body(request.method, start.status)
        body = response.body
        assert isinstance(body, list | tuple)
        if not send_body:
            content = None
        elif len(body) == 1 and not response.prefix and type(body[0]) is bytes:
            content = body[0]
        else:
            content = b''.join([*response.prefix, *body])
        reply = web.Response(
            status=start.status,
            reason=start.reason or None,
            # a list: Response copies it into a CIMultiDict of its own
            headers=start.headers,
            body=content,
        )
        return self._finish(request, environ, response, reply, send_body, started)

    def _finish(
        self,
        request: web.BaseRequest,
        environ: Environ,
        response: WSGIResponse,
        reply: web.StreamResponse,
        send_body: bool,
        started: float,
    ) -> web.StreamResponse:
        start = response.start
        if start.close_connection or not self.keep_alive:
            reply.force_close()
        if self.access_log is not None:
            sent = reply.content_length if reply.body_length == 0 else reply.body_length
            self.access_log(
                start.status,
                (sent or 0) if send_body else 0,
                start.headers,
                request,
                environ,
                monotonic() - started,
            )
        return reply

    async def _stream(
        self, request: web.BaseRequest, response: WSGIResponse, send_body: bool
    ) -> web.StreamResponse:
        """Send a body chunk by chunk as the application produces it."""
        start = response.start
        stream = BodyStream(response, send_body=send_body)
        reply = web.StreamResponse(
            status=start.status,
            reason=start.reason or None,
            headers=start.headers,
        )
        if (
            send_body
            and request.version < HttpVersion11
            and reply.content_length is None
        ):
            # HTTP/1.0 has no chunked encoding: a body of unknown length ends
            # with the connection.  (aiohttp 3.14 works that out but does not
            # keep it: a keep-alive client would read the next response as
            # the end of this body.)
            reply.force_close()
        try:
            await reply.prepare(request)
            # each chunk goes out as soon as it is made: the next may be late
            async for chunk in stream:
                await reply.write(chunk)
            await reply.write_eof()
        except ConnectionError:
            # the client went away; aiohttp notices and closes quietly
            pass
        finally:
            await stream.aclose()
        return reply

    async def _websocket(
        self, request: web.BaseRequest, environ: Environ, started: float
    ) -> web.StreamResponse:
        """Run the handshake (and, once accepted, the session) through the app."""
        assert self.router is not None
        transport = AiohttpWebsocketTransport(request)
        try:
            refusal = await run_upgrade(self.router, environ, transport, self.error_log)
        finally:
            # a session ends when its client leaves, often by cancellation
            if transport.accepted and self.access_log is not None:
                seconds = monotonic() - started
                self.access_log(101, 0, [], request, environ, seconds)
        if refusal is None:
            return transport.response
        # the pipeline answered with HTTP: the handshake is refused
        return await self._send(request, environ, refusal, started)


async def _arriving(content: StreamReader, timeout: float) -> AsyncIterator[bytes]:
    """The body's chunks as they arrive; :class:`BodyTimeout` if they stop.

    Besides slow clients, this bounds a body whose framing broke after its
    first chunk: aiohttp's C parser then stops feeding the request without
    telling it.
    """
    while True:
        try:
            async with asyncio.timeout(timeout):
                chunk = await content.readany()
        except TimeoutError:
            raise BodyTimeout(
                f'The request body stopped arriving for {timeout:g} seconds '
                f'(setting aiotao.body_timeout).'
            ) from None
        if not chunk:
            return
        yield chunk


def _refused_environ(head: RequestHead) -> Environ:
    """Enough of an environ to log a request refused before it was built."""
    query = head.query_string.decode('latin-1')
    environ: Environ = {
        'REQUEST_METHOD': head.method,
        'RAW_URI': head.raw_path.decode('latin-1') + ('?' + query if query else ''),
        'PATH_INFO': head.raw_path.decode('latin-1'),
        'QUERY_STRING': query,
        'SERVER_PROTOCOL': f'HTTP/{head.http_version}',
    }
    if head.client:
        environ['REMOTE_ADDR'] = head.client[0]
    return environ
