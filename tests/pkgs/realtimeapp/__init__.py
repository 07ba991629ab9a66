"""The application the realtime tests run under real gunicorn masters.

``use = call:tests.pkgs.realtimeapp:main``.  The user is whoever the
``X-User`` header names (a stand-in for a login), so that a test opens
sockets as ``ada`` or ``bob``.

* ``/hello``: ready check;
* ``/socket``: a websocket that says ``{"type": "hello", "worker": PID,
  "address": ..., "userid": ..., "groups": [...]}``
  once open, then echoes what it gets;
* ``POST /send?user=ada&text=...``: ``request.realtime.send_to_user``;
* ``POST /send_connection?address=...&text=...``: ``send_to_connection``;
* ``/stall?seconds=2``: blocks the event loop (``time.sleep`` in a view
  that runs on the loop), as a CPU-bound handler would;
* ``/metrics``: the worker's admission metrics.
"""

from __future__ import annotations

import os
import time
from typing import Any

from pyramid.config import Configurator

from aiotao.mappers import WebsocketMapper
from aiotao.serving.admission import worker_admission


class HeaderPolicy:
    def identity(self, request: Any) -> Any:
        return request.headers.get('X-User') or None

    def authenticated_userid(self, request: Any) -> Any:
        return self.identity(request)

    def permits(self, request: Any, context: Any, permission: str) -> bool:
        return True

    def remember(self, request: Any, userid: Any, **kw: Any) -> list[Any]:
        return []

    def forget(self, request: Any, **kw: Any) -> list[Any]:
        return []


async def hello(request: Any) -> Any:
    request.response.text = 'hello'
    return request.response


async def socket(ws: Any) -> None:
    await ws.send_json(
        {
            'type': 'hello',
            'worker': os.getpid(),
            'address': ws.address,
            'userid': ws.userid,
            'groups': sorted(ws.groups),
        }
    )
    async for message in ws:
        await ws.send(message)


async def send(request: Any) -> Any:
    await request.realtime.send_to_user(
        request.params['user'], {'type': 'note', 'text': request.params['text']}
    )
    return {'sent_by': os.getpid()}


async def send_connection(request: Any) -> Any:
    await request.realtime.send_to_connection(
        request.params['address'], request.params['text']
    )
    return {'sent_by': os.getpid()}


def stall(request: Any) -> Any:
    # blocking=False: this sync view runs on the event loop, so it stalls it
    time.sleep(float(request.params.get('seconds', '1')))
    request.response.text = 'stalled'
    return request.response


async def metrics(request: Any) -> Any:
    admission = worker_admission()
    return admission.metrics() if admission is not None else {}


def main(global_config: dict[str, Any], **settings: Any) -> Any:
    config = Configurator(settings=settings)
    config.include('aiotao')
    config.include('aiotao.websocket')
    config.set_security_policy(HeaderPolicy())
    config.add_route('hello', '/hello')
    config.add_view(hello, route_name='hello')
    config.add_route('socket', '/socket')
    config.add_view(socket, route_name='socket', mapper=WebsocketMapper)
    config.add_route('send', '/send')
    config.add_view(send, route_name='send', renderer='json', request_method='POST')
    config.add_route('send_connection', '/send_connection')
    config.add_view(
        send_connection,
        route_name='send_connection',
        renderer='json',
        request_method='POST',
    )
    config.add_route('metrics', '/metrics')
    config.add_view(metrics, route_name='metrics', renderer='json')
    config.add_route('stall', '/stall')
    config.add_view(stall, route_name='stall', blocking=False)
    return config.make_wsgi_app()


# -- sessions_main: per-message permissions over server-side sessions ---------


class SessionPolicy:
    """Identity from the (server-side) session; ``post`` for the signed-in."""

    def __init__(self) -> None:
        from pyramid.authentication import SessionAuthenticationHelper

        self.helper = SessionAuthenticationHelper()

    async def identity(self, request: Any) -> Any:
        return self.helper.authenticated_userid(request)

    async def authenticated_userid(self, request: Any) -> Any:
        return await self.identity(request)

    async def permits(self, request: Any, context: Any, permission: str) -> bool:
        return permission == 'post' and await self.identity(request) is not None

    def remember(self, request: Any, userid: Any, **kw: Any) -> Any:
        return self.helper.remember(request, userid, **kw)

    def forget(self, request: Any, **kw: Any) -> Any:
        return self.helper.forget(request, **kw)


def _board_router() -> Any:
    from aiotao.websocket import MessageRouter

    router = MessageRouter()

    @router.on('post', permission='post')
    async def post(ws: Any, message: dict[str, Any]) -> dict[str, Any]:
        return {'posted': message.get('text'), 'worker': os.getpid()}

    return router


BOARD = _board_router()


async def visit(request: Any) -> Any:
    request.session['visited'] = True
    return {'worker': os.getpid()}


async def login(request: Any) -> Any:
    from pyramid.security import remember

    request.response.headers.extend(remember(request, request.params['name']))
    return request.response


async def logout(request: Any) -> Any:
    from pyramid.security import forget

    request.response.headers.extend(forget(request))
    return request.response


async def board(ws: Any) -> None:
    await BOARD.serve(ws)


def sessions_main(global_config: dict[str, Any], **settings: Any) -> Any:
    config = Configurator(settings=settings)
    config.include('aiotao')
    config.include('aiotao.sessions')
    config.set_security_policy(SessionPolicy())
    config.add_route('hello', '/hello')
    config.add_view(hello, route_name='hello')
    config.add_route('visit', '/visit')
    config.add_view(visit, route_name='visit', renderer='json')
    for name, view in [('login', login), ('logout', logout)]:
        config.add_route(name, f'/{name}')
        config.add_view(view, route_name=name, request_method='POST')
    config.add_route('board', '/board')
    config.add_view(board, route_name='board', mapper=WebsocketMapper)
    return config.make_wsgi_app()
