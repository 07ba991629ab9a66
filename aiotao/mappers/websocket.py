"""``WebsocketMapper``: views that serve a websocket connection.

::

    from aiotao.mappers import WebsocketMapper

    @view_config(route_name='echo', mapper=WebsocketMapper)
    async def echo(ws):
        async for message in ws:
            await ws.send(message)

    @view_config(route_name='room', mapper=WebsocketMapper, permission='chat')
    class Room:
        def __init__(self, context, request):     # or (self, request)
            self.name = request.matchdict['name']

        async def __call__(self, ws):
            await ws.join(self.name)
            async for message in ws:
                await ws.broadcast(self.name, message)

The handshake is an ordinary request first: route and view predicates,
``permission=`` and the rest of Pyramid's view machinery decide whether the
view is reached at all, so a refused handshake is an ordinary HTTP response
(404, 403...).  The mapped view then checks, in order:

1. that the request is a websocket handshake on a server that can upgrade
   it: without a transport from the server, a plain request gets 400 with
   a message and an upgrade request (on a plain WSGI server) gets 501
   naming the servers that can;
2. the ``Origin`` header (see :mod:`aiotao.websocket.handshake`): 403;
3. a class view's ``__init__``, which may raise an HTTP exception too;

and only then completes the handshake and awaits the view with the
connection (:class:`~aiotao.websocket.connection.WebsocketConnection`).
When the view returns, the connection is closed normally (1000); when it
raises, it is closed with 1011 and the error is logged; a view that ends
because the client left (:exc:`~aiotao.websocket.exceptions.ConnectionClosed`
from ``send``) is not an error.

Subprotocols: ``mapper=WebsocketMapper.with_subprotocols('chat.v2', 'chat.v1')``
picks the first one the client offers; the view finds it in ``ws.subprotocol``.
A view that speaks subprotocols of its own (a library's view, mapped by
the application with the plain mapper) lists them in its
``__websocket_subprotocols__`` attribute, which the mapper negotiates when
it was not given any (``aiotao.game.serve_game`` does).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pyramid.exceptions import ConfigurationError
from pyramid.httpexceptions import (
    HTTPBadRequest,
    HTTPForbidden,
    HTTPNotImplemented,
)
from pyramid.interfaces import IViewMapper, IViewMapperFactory
from pyramid.response import Response
from pyramid.util import is_unbound_method, object_description
from pyramid.viewderivers import DefaultViewMapper, requestonly
from zope.interface import implementer, provider

from aiotao.mappers.detection import is_coroutine_view
from aiotao.websocket.addresses import address_connection
from aiotao.websocket.config import get_settings
from aiotao.websocket.connection import WebsocketConnection
from aiotao.websocket.exceptions import ConnectionClosed, HandshakeError, InvalidMessage
from aiotao.websocket.handshake import choose_subprotocol, is_upgrade_request
from aiotao.websocket.transport import TRANSPORT_ENVIRON_KEY, WebsocketTransport

__all__ = ['WebsocketMapper']

log = logging.getLogger(__name__)

Session = Callable[[WebsocketConnection], Awaitable[Any]]
SessionFactory = Callable[[Any, Any], Session]

NOT_AN_UPGRADE = (
    'This URL is a websocket endpoint: connect to it with a websocket client '
    '(a GET request with "Upgrade: websocket").'
)
NO_ASYNC_SERVER = (
    'This URL is a websocket endpoint, and this server cannot upgrade '
    'connections: it serves the application as plain WSGI.  Serve it with '
    "aiotao's gunicorn worker (worker_class = aiotao.serving.gunicorn.Worker) or "
    'with an ASGI server through the ASGI adapter (aiotao.serving.asgi).'
)


@implementer(IViewMapper)
@provider(IViewMapperFactory)
class WebsocketMapper(DefaultViewMapper):  # type: ignore[misc]
    """Maps ``async def view(ws)`` and classes with ``async def __call__(self, ws)``."""

    #: Subprotocols the views of this mapper speak; the first one the client
    #: offers (clients list theirs preferred first) is agreed.
    subprotocols: tuple[str, ...] = ()

    @classmethod
    def with_subprotocols(cls, *names: str) -> type[WebsocketMapper]:
        """A mapper whose views negotiate the subprotocols ``names``.

        >>> mapper = WebsocketMapper.with_subprotocols('chat.v2', 'chat.v1')
        >>> mapper.subprotocols
        ('chat.v2', 'chat.v1')
        """
        return type(cls.__name__, (cls,), {'subprotocols': tuple(names)})

    def __call__(self, view: Any) -> Any:
        attr = self.attr
        described = object_description(view) + (f' (attr {attr!r})' if attr else '')
        if is_unbound_method(view) and attr is None:
            raise ConfigurationError(
                f'WebsocketMapper: {described} is a method: register the class '
                f'as the view and the method name as attr='
            )
        if not is_coroutine_view(view, attr):
            raise ConfigurationError(
                f'WebsocketMapper: the view {described} must be a coroutine '
                f'function taking the connection: "async def view(ws)", or a '
                f'class with "async def __call__(self, ws)" (or the method '
                f'named by attr=)'
            )
        sessions = (
            self._class_sessions(view)
            if inspect.isclass(view)
            else self._sessions(view)
        )
        subprotocols = self.subprotocols or tuple(
            getattr(view, '__websocket_subprotocols__', ())
        )

        def websocket_view(context: Any, request: Any) -> Awaitable[Response]:
            return serve_websocket(context, request, sessions, subprotocols, described)

        websocket_view.__text__ = f'websocket view {described}'  # type: ignore[attr-defined]
        return websocket_view

    def _class_sessions(self, view: type[Any]) -> SessionFactory:
        method = self.attr or '__call__'
        request_only = requestonly(view, self.attr)

        def sessions(context: Any, request: Any) -> Session:
            instance = view(request) if request_only else view(context, request)
            request.__view__ = instance
            return getattr(instance, method)  # type: ignore[no-any-return]

        return sessions

    def _sessions(self, view: Any) -> SessionFactory:
        session: Session = getattr(view, self.attr) if self.attr else view

        def sessions(context: Any, request: Any) -> Session:
            return session

        return sessions


async def serve_websocket(
    context: Any,
    request: Any,
    sessions: SessionFactory,
    subprotocols: tuple[str, ...],
    described: str,
) -> Response:
    """Check the handshake, accept it and run the view's session to its end."""
    environ = request.environ
    transport: WebsocketTransport | None = environ.get(TRANSPORT_ENVIRON_KEY)
    if transport is None:
        if is_upgrade_request(environ):
            raise HTTPNotImplemented(NO_ASYNC_SERVER)
        # 400, not 426: a 426 must carry "Upgrade: websocket", a hop-by-hop
        # header that WSGI applications may not send (PEP 3333; waitress
        # refuses the response, aiotao's servers drop the header).
        raise HTTPBadRequest(NOT_AN_UPGRADE)
    settings = get_settings(request.registry)
    problem = settings.origins.problem(environ)
    if problem is not None:
        raise HTTPForbidden(f'Websocket connection refused: {problem}.')
    session = sessions(context, request)
    ws = WebsocketConnection(transport, request, settings.limits)
    try:
        await ws.accept(choose_subprotocol(environ, subprotocols))
    except HandshakeError as exc:
        raise HTTPBadRequest(f'Invalid websocket handshake: {exc}.') from None
    except ConnectionClosed:
        raise HTTPBadRequest(
            'The client left during the websocket handshake.'
        ) from None
    try:
        await address_connection(ws)
    except ConnectionClosed:
        pass  # gone already: the view sees it closed
    await _serve_session(ws, session, described)
    # Nobody sends this response (the connection was upgraded); it is what
    # response callbacks, NewResponse subscribers and access logs see.
    return Response(status=101)


async def _serve_session(
    ws: WebsocketConnection, session: Session, described: str
) -> None:
    # The session runs in its own task (with this request's context) so
    # that the request being cancelled does not cut the view short.
    # aiohttp cancels the request when the client's connection is lost
    # (aiotao.cancel_on_disconnect); the view should then see recv() return
    # None and run its own cleanup (leave a room, save a game), as it does
    # when the client closes properly.
    task = asyncio.get_running_loop().create_task(run_session(ws, session, described))
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        # The client is gone, or the server is stopping: close the
        # connection, give the view close_timeout to finish, then cancel it.
        ws.close_nowait(1001, 'going away')
        try:
            await asyncio.wait({task}, timeout=ws.limits.close_timeout)
        finally:
            task.cancel()
        raise


async def run_session(
    ws: WebsocketConnection, session: Session, described: str
) -> None:
    """Await the view with ``ws``, then close ``ws`` according to how it ended."""
    try:
        await session(ws)
    except ConnectionClosed:
        pass  # the client left, or was dropped: how many views end
    except InvalidMessage as exc:
        # the client sent what the view cannot use: its fault, not ours
        log.info(
            'aiotao: websocket view %s: %s; closing the connection with %d',
            described,
            exc,
            exc.close_code,
        )
        await ws.close(exc.close_code, str(exc))
        return
    except asyncio.CancelledError:
        ws.close_nowait(1001, 'going away')
        raise
    except Exception:
        log.exception(
            'aiotao: websocket view %s failed; closing the connection with 1011',
            described,
        )
        await ws.close(1011, 'internal server error')
        return
    await ws.close()
