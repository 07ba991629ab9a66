"""A websocket upgrade request through the pipeline: accepted, or refused.

The one piece of websocket handling every way of serving shares.  A server
puts its :class:`~aiotao.websocket.transport.WebsocketTransport` in the
environ and awaits :func:`run_upgrade`; the view mapper accepts the
upgrade only once routes, predicates, security and the origin check passed,
and runs the whole session inside the view call.  What comes back tells the
server what is left to do::

    refusal = await run_upgrade(router, environ, transport)
    if refusal is None:
        ...   # accepted: the session took place and is over
    else:
        ...   # send the pipeline's HTTP answer (403, 404, 426...) instead of 101

Each server sends a refusal its own way (an aiohttp response, an ASGI
denial response, a ``websockets`` handshake response); :func:`refusal_body`
collects the body for those that need it whole.  Nothing here touches a
socket.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiotao.router import AsyncRouter
from aiotao.serving.application import ErrorLog, prepare_response
from aiotao.serving.errors import internal_error_response, unhandled_request_error
from aiotao.serving.responses import Environ, WSGIResponse
from aiotao.serving.streaming import BodyStream
from aiotao.websocket.shutdown import close_all
from aiotao.websocket.transport import TRANSPORT_ENVIRON_KEY, WebsocketTransport

__all__ = [
    'GOING_AWAY',
    'close_all_websockets',
    'is_websocket_upgrade',
    'refusal_body',
    'run_upgrade',
]

log = logging.getLogger(__name__)

#: Close code for "the server is going away" (RFC 6455 section 7.4.1).
GOING_AWAY = 1001


def is_websocket_upgrade(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether raw request headers ask for a websocket (``Upgrade: websocket``).

    For a server, before it builds an environ (or to spare one); the view
    mapper asks the environ, with
    :func:`aiotao.websocket.handshake.is_upgrade_request`.

    >>> is_websocket_upgrade([(b'Connection', b'Upgrade'), (b'Upgrade', b'websocket')])
    True

    ``Connection: Upgrade`` is not required here: a request without it is a
    malformed handshake, which the websocket view refuses with a message
    (:func:`aiotao.websocket.handshake.handshake_problem`) rather than a
    plain HTTP request.
    """
    for name, value in headers:
        if name.lower() == b'upgrade':
            tokens = (token.strip().lower() for token in value.split(b','))
            if b'websocket' in tokens:
                return True
    return False


async def run_upgrade(
    router: AsyncRouter,
    environ: Environ,
    transport: WebsocketTransport,
    error_log: ErrorLog = log,
) -> WSGIResponse | None:
    """Run an upgrade request through the pipeline with ``transport``.

    ``None`` once the view accepted the upgrade: the session is over when
    this returns (or this is cancelled while it runs).  Otherwise the
    pipeline's HTTP answer, started, for the server to send instead of
    101: an HTTP exception's response, the 400 of an undecodable request,
    or a 500 when the pipeline failed (logged to ``error_log``).  A
    pipeline that fails after accepting closes the connection with 1011.
    """
    environ[TRANSPORT_ENVIRON_KEY] = transport
    try:
        response = await router.handle(environ)
    except Exception as exc:
        refused = unhandled_request_error(exc, environ)
        if refused is None:
            error_log.exception(
                'Error handling websocket request %s', environ['RAW_URI']
            )
        if transport.accepted:
            # the view's mapper has closed it already, unless a tween failed
            await transport.close(1011, 'internal server error')
            return None
        return refused or internal_error_response()
    if transport.accepted:
        return None
    return prepare_response(response, environ, error_log)


async def refusal_body(response: WSGIResponse) -> bytes:
    """The whole body of a refusal, its iterable closed (WSGI's rule)."""
    stream = BodyStream(response)
    try:
        return b''.join([chunk async for chunk in stream])
    finally:
        await stream.aclose()


async def close_all_websockets(reason: str = 'server shutting down') -> None:
    """Close every open websocket of this process with 1001 (going away)."""
    await close_all(GOING_AWAY, reason)
