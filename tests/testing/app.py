"""The application the test client's tests serve, in-process and under gunicorn.

PasteDeploy factory: ``use = call:tests.testing.app:main``.  Its views cover
what the parity suite compares: JSON, forms, cookies and a session,
rendered HTTP errors, streaming, redirects, the lifecycle, and websocket
views (echo, JSON, a failing view, a size limit, a server-side close, a
permission, a subprotocol).  Nothing is kept between requests but cookies,
so one server can serve many tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPFound
from pyramid.request import Request
from pyramid.response import Response
from pyramid.security import Allowed, Denied
from pyramid.session import SignedCookieSessionFactory
from pyramid.view import view_config

from aiotao.lifecycle import ServerStarted, ServerStopping
from aiotao.mappers import WebsocketMapper
from aiotao.websocket import ConnectionClosed, WebsocketConnection

#: Settings of every app built here: small limits, short timeouts.
SETTINGS = {
    'aiotao.max_body_size': '4096',
    'aiotao.websocket.max_message_size': '1000',
    'aiotao.websocket.send_timeout': '1',
    'aiotao.websocket.close_timeout': '2',
}


class HeaderSecurityPolicy:
    """The user is the ``X-User`` header; only ``admin`` may ``watch``."""

    def identity(self, request: Request) -> str | None:
        user: str | None = request.headers.get('X-User')
        return user

    def authenticated_userid(self, request: Request) -> str | None:
        return self.identity(request)

    def permits(self, request: Request, context: Any, permission: str) -> Any:
        if permission == 'watch' and self.identity(request) == 'admin':
            return Allowed('admin')
        return Denied('admins only')


# -- HTTP ----------------------------------------------------------------------


@view_config(route_name='hello', renderer='json')
async def hello(request: Request) -> dict[str, Any]:
    await asyncio.sleep(0)
    request.response.headers['X-Greeting'] = 'hi'
    return {'hello': request.params.get('name', 'world'), 'method': request.method}


@view_config(route_name='echo', renderer='json')
async def echo(request: Request) -> dict[str, Any]:
    """What the request carried: query, form, JSON, files, some headers."""
    body: Any = None
    if request.content_type == 'application/json':
        body = request.json_body
    files = {
        name: [field.filename, field.file.read().decode()]
        for name, field in request.POST.items()
        if hasattr(field, 'filename')
    }
    return {
        'method': request.method,
        'path': request.path,
        'query': sorted(request.GET.items()),
        'form': sorted(
            (key, value)
            for key, value in request.POST.items()
            if not hasattr(value, 'filename')
        ),
        'json': body,
        'files': files,
        'length': len(request.body),
        'remote_addr': request.remote_addr,
        'x_custom': request.headers.get('X-Custom'),
    }


@view_config(route_name='login', renderer='json')
def login(request: Request) -> dict[str, str]:
    """A sync view: sets the session and two more cookies, one path-scoped."""
    name = request.params['name']
    request.session['name'] = name
    request.response.set_cookie('flavour', 'chocolate')
    request.response.set_cookie('scoped', 'yes', path='/scoped')
    return {'logged_in': name}


@view_config(route_name='me', renderer='json')
@view_config(route_name='scoped', renderer='json')
async def me(request: Request) -> dict[str, Any]:
    return {'name': request.session.get('name'), 'cookies': sorted(request.cookies)}


@view_config(route_name='logout', renderer='json')
async def logout(request: Request) -> dict[str, bool]:
    request.session.invalidate()
    request.response.delete_cookie('flavour')
    return {'logged_out': True}


@view_config(route_name='forbidden')
async def forbidden(request: Request) -> Response:
    from pyramid.httpexceptions import HTTPForbidden

    raise HTTPForbidden('not for you')


@view_config(route_name='boom')
async def boom(request: Request) -> Response:
    await asyncio.sleep(0)
    raise RuntimeError('the view broke')


@view_config(route_name='stream')
def stream(request: Request) -> Response:
    def chunks() -> Iterator[bytes]:
        for i in range(5):
            yield f'chunk {i}\n'.encode()

    response = Response(content_type='text/plain')
    response.app_iter = chunks()
    return response


@view_config(route_name='redirect')
async def redirect(request: Request) -> Response:
    return HTTPFound(location=request.route_url('hello', _query={'name': 'again'}))


@view_config(route_name='lifecycle', renderer='json')
async def lifecycle(request: Request) -> dict[str, Any]:
    return {'started': request.registry.get('testing.started', 0)}


def on_started(event: ServerStarted) -> None:
    event.registry['testing.started'] = event.registry.get('testing.started', 0) + 1


def on_stopping(event: ServerStopping) -> None:
    event.registry['testing.stopped'] = event.registry.get('testing.stopped', 0) + 1


# -- websockets ----------------------------------------------------------------


@view_config(route_name='ws_echo', mapper=WebsocketMapper)
async def ws_echo(ws: WebsocketConnection) -> None:
    async for message in ws:
        await ws.send(message)


@view_config(route_name='ws_json', mapper=WebsocketMapper)
async def ws_json(ws: WebsocketConnection) -> None:
    while True:
        data = await ws.recv_json()
        await ws.send_json({'got': data, 'user': ws.request.session.get('name')})


@view_config(route_name='ws_fail', mapper=WebsocketMapper)
async def ws_fail(ws: WebsocketConnection) -> None:
    await ws.recv()
    raise RuntimeError('the websocket view broke')


@view_config(route_name='ws_bye', mapper=WebsocketMapper)
async def ws_bye(ws: WebsocketConnection) -> None:
    await ws.send('bye')
    await ws.close(4000, 'done here')


@view_config(route_name='ws_private', mapper=WebsocketMapper, permission='watch')
async def ws_private(ws: WebsocketConnection) -> None:
    await ws.send(f'hello {ws.request.authenticated_userid}')


@view_config(
    route_name='ws_subprotocol',
    mapper=WebsocketMapper.with_subprotocols('chat.v2', 'chat.v1'),
)
async def ws_subprotocol(ws: WebsocketConnection) -> None:
    await ws.send(ws.subprotocol or 'none')


@view_config(route_name='ws_observed', mapper=WebsocketMapper)
async def ws_observed(ws: WebsocketConnection) -> None:
    """Echoes, then reports how the connection ended in ``registry['observed']``."""
    async for message in ws:
        await ws.send(message)
    observed(ws).put_nowait((ws.close_code, ws.close_reason))


@view_config(route_name='ws_flood', mapper=WebsocketMapper)
async def ws_flood(ws: WebsocketConnection) -> None:
    """Sends 64 KiB messages until the client is dropped for not reading."""
    sent = 0
    try:
        while sent < 10_000:
            await ws.send(b'x' * 65536)
            sent += 1
    except ConnectionClosed as exc:
        observed(ws).put_nowait((sent, exc.code, exc.reason))


@view_config(route_name='ws_deaf', mapper=WebsocketMapper)
async def ws_deaf(ws: WebsocketConnection) -> None:
    """Never reads: it does not notice a close until cancelled."""
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        observed(ws).put_nowait('cancelled')
        raise


@view_config(route_name='ws_room', mapper=WebsocketMapper)
async def ws_room(ws: WebsocketConnection) -> None:
    name = ws.request.matchdict['name']
    await ws.join(name)
    await ws.send('joined')
    async for message in ws:
        await ws.broadcast(name, message)


def observed(ws: WebsocketConnection) -> asyncio.Queue[Any]:
    queue: asyncio.Queue[Any] = ws.request.registry.setdefault(
        'observed', asyncio.Queue()
    )
    return queue


def main(global_config: dict[str, Any], **settings: Any) -> Any:
    """The app; ``settings`` over :data:`SETTINGS`."""
    return make_config(**settings).make_wsgi_app()


def make_config(**settings: Any) -> Configurator:
    config = Configurator(settings={**SETTINGS, **settings})
    config.include('aiotao')
    config.include('aiotao.websocket')
    config.set_security_policy(HeaderSecurityPolicy())
    config.set_session_factory(SignedCookieSessionFactory('not a secret'))
    for name, pattern in [
        ('hello', '/hello'),
        ('echo', '/echo'),
        ('login', '/login'),
        ('me', '/me'),
        ('scoped', '/scoped/me'),
        ('logout', '/logout'),
        ('forbidden', '/forbidden'),
        ('boom', '/boom'),
        ('stream', '/stream'),
        ('redirect', '/redirect'),
        ('lifecycle', '/lifecycle'),
        ('ws_echo', '/ws/echo'),
        ('ws_json', '/ws/json'),
        ('ws_fail', '/ws/fail'),
        ('ws_bye', '/ws/bye'),
        ('ws_private', '/ws/private'),
        ('ws_subprotocol', '/ws/subprotocol'),
        ('ws_observed', '/ws/observed'),
        ('ws_flood', '/ws/flood'),
        ('ws_deaf', '/ws/deaf'),
        ('ws_room', '/ws/room/{name}'),
    ]:
        config.add_route(name, pattern)
    config.add_subscriber(on_started, ServerStarted)
    config.add_subscriber(on_stopping, ServerStopping)
    config.scan('tests.testing.app')
    return config
