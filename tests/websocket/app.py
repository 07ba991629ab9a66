"""The websocket application the tests serve, one view per behaviour.

Views that the tests watch from the server side put what they saw in
``registry['observed']`` (an :class:`asyncio.Queue`): servers run in the
test's own event loop, so the test reads it directly.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.security import Allowed, Denied
from pyramid.session import SignedCookieSessionFactory
from pyramid.view import view_config

from aiotao.mappers import WebsocketMapper
from aiotao.websocket import ConcurrencyError, ConnectionClosed, InvalidJSON
from aiotao.websocket.connection import WebsocketConnection

#: Settings every test app starts from: short timeouts, so that tests of
#: slow clients take a second, not the production ten.
TEST_SETTINGS = {
    'aiotao.websocket.send_timeout': '1',
    'aiotao.websocket.close_timeout': '2',
}


def observe(ws: WebsocketConnection, **seen: Any) -> None:
    ws.request.registry['observed'].put_nowait(seen)


class HeaderSecurityPolicy:
    """The identity is the ``X-User`` header; only ``admin`` has ``secret``."""

    def identity(self, request: Request) -> dict[str, str] | None:
        user = request.headers.get('X-User')
        return {'name': user} if user else None

    def authenticated_userid(self, request: Request) -> str | None:
        identity = self.identity(request)
        return identity['name'] if identity else None

    def permits(self, request: Request, context: Any, permission: str) -> Any:
        if permission == 'secret' and self.authenticated_userid(request) == 'admin':
            return Allowed('admin')
        return Denied('admins only')


@view_config(route_name='echo', mapper=WebsocketMapper)
async def echo(ws: WebsocketConnection) -> None:
    async for message in ws:
        await ws.send(message)


@view_config(route_name='whoami', mapper=WebsocketMapper)
async def whoami(ws: WebsocketConnection) -> None:
    request = ws.request
    await ws.send_json(
        {
            'matchdict': request.matchdict,
            'identity': request.identity,
            'userid': request.authenticated_userid,
            'state': ws.state.value,
        }
    )


@view_config(route_name='context_class', mapper=WebsocketMapper)
class ContextClassView:
    def __init__(self, context: Any, request: Request) -> None:
        self.context = context
        self.request = request
        self.room = request.matchdict['room']

    async def __call__(self, ws: WebsocketConnection) -> None:
        await ws.send(f'{type(self.context).__name__} {self.room}')


@view_config(route_name='request_class', mapper=WebsocketMapper, attr='serve')
class RequestClassView:
    def __init__(self, request: Request) -> None:
        self.greeting = request.params.get('greeting', 'hello')

    async def serve(self, ws: WebsocketConnection) -> None:
        await ws.send(self.greeting)


@view_config(route_name='predicated', mapper=WebsocketMapper, request_param='room')
async def predicated(ws: WebsocketConnection) -> None:
    await ws.send(ws.request.params['room'])


@view_config(route_name='private', mapper=WebsocketMapper, permission='secret')
async def private(ws: WebsocketConnection) -> None:
    await ws.send('secret')


@view_config(
    route_name='subprotocol',
    mapper=WebsocketMapper.with_subprotocols('chat.v2', 'chat.v1'),
)
async def subprotocol(ws: WebsocketConnection) -> None:
    await ws.send(ws.subprotocol or 'none')


@view_config(route_name='json', mapper=WebsocketMapper)
async def json_echo(ws: WebsocketConnection) -> None:
    while True:
        try:
            data = await ws.recv_json()
        except InvalidJSON as exc:
            await ws.send_json({'error': str(exc)})
            continue
        await ws.send_json({'got': data})


@view_config(route_name='json_unchecked', mapper=WebsocketMapper)
async def json_unchecked(ws: WebsocketConnection) -> None:
    await ws.send_json(await ws.recv_json())


@view_config(route_name='fail', mapper=WebsocketMapper)
async def fail(ws: WebsocketConnection) -> None:
    await ws.recv()
    raise RuntimeError('the view broke')


@view_config(route_name='sized', mapper=WebsocketMapper)
async def sized(ws: WebsocketConnection) -> None:
    async for message in ws:
        await ws.send(str(len(message)))
    observe(ws, close_code=ws.close_code, close_reason=ws.close_reason)


@view_config(route_name='after_close', mapper=WebsocketMapper)
async def after_close(ws: WebsocketConnection) -> None:
    received = [message async for message in ws]
    observe(
        ws,
        received=received,
        again=[await ws.recv(), await ws.recv()],
        state=ws.state,
        close_code=ws.close_code,
        close_reason=ws.close_reason,
    )


@view_config(route_name='close_twice', mapper=WebsocketMapper)
async def close_twice(ws: WebsocketConnection) -> None:
    await ws.send('closing')
    await ws.close(4000, 'done here')
    await ws.close(4001, 'ignored')
    try:
        await ws.send('too late')
    except ConnectionClosed as exc:
        observe(ws, state=ws.state, code=ws.close_code, error=exc)


@view_config(route_name='two_readers', mapper=WebsocketMapper)
async def two_readers(ws: WebsocketConnection) -> None:
    first = asyncio.create_task(ws.recv())
    await asyncio.sleep(0)  # let the first reader wait
    try:
        await ws.recv()
    except ConcurrencyError as exc:
        await ws.send(f'error: {exc}')
    await ws.send(f'first reader got: {await first}')


@view_config(route_name='flood', mapper=WebsocketMapper)
async def flood(ws: WebsocketConnection) -> None:
    """Send 1 GiB in 1 MiB messages to a client that does not read."""
    chunk = b'x' * (1024 * 1024)
    loop = asyncio.get_running_loop()
    started = loop.time()
    sent = 0
    try:
        for _ in range(1024):
            await ws.send(chunk)
            sent += 1
    except ConnectionClosed as exc:
        observe(
            ws,
            sent=sent,
            seconds=loop.time() - started,
            code=exc.code,
            reason=exc.reason,
            close_code=ws.close_code,
        )


@view_config(route_name='room', mapper=WebsocketMapper)
async def room(ws: WebsocketConnection) -> None:
    name = ws.request.matchdict['name']
    await ws.join(name)
    await ws.send('joined')
    async for message in ws:
        await ws.broadcast(name, message)


@view_config(route_name='announce', renderer='json')
async def announce(request: Request) -> dict[str, int]:
    groups = request.websocket_groups
    await groups.broadcast('lobby', request.params['text'])
    return {'members': len(groups.members('lobby'))}


@view_config(route_name='login', renderer='json')
def login(request: Request) -> dict[str, str]:
    request.session['nickname'] = request.params['nickname']
    return {'ok': 'yes'}


@view_config(route_name='nickname', mapper=WebsocketMapper)
async def nickname(ws: WebsocketConnection) -> None:
    await ws.send(ws.request.session.get('nickname', 'anonymous'))


def make_app(**settings: str) -> Any:
    """The test application, with ``settings`` over :data:`TEST_SETTINGS`."""
    with Configurator(settings={**TEST_SETTINGS, **settings}) as config:
        config.include('aiotao')
        config.include('aiotao.websocket')
        config.set_security_policy(HeaderSecurityPolicy())
        config.add_route('echo', '/echo')
        config.add_route('whoami', '/whoami/{name}')
        config.add_route('context_class', '/rooms/{room}')
        config.add_route('request_class', '/greet')
        config.add_route('predicated', '/predicated')
        config.add_route('private', '/private')
        config.add_route('subprotocol', '/subprotocol')
        config.add_route('json', '/json')
        config.add_route('json_unchecked', '/json-unchecked')
        config.add_route('fail', '/fail')
        config.add_route('sized', '/sized')
        config.add_route('after_close', '/after-close')
        config.add_route('close_twice', '/close-twice')
        config.add_route('two_readers', '/two-readers')
        config.add_route('flood', '/flood')
        config.add_route('room', '/room/{name}')
        config.add_route('announce', '/announce')
        config.add_route('login', '/login')
        config.add_route('nickname', '/nickname')
        config.set_session_factory(SignedCookieSessionFactory('not a secret'))
        config.scan('tests.websocket.app')
        app = config.make_wsgi_app()
    app.registry['observed'] = asyncio.Queue()
    return app
