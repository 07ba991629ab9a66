"""Per-message permissions: ``permission=`` on message handlers, re-checked per message.

The application keeps its sessions on the server (:mod:`aiotao.sessions`)
and authenticates with Pyramid's ``SessionAuthenticationHelper`` behind an
async security policy.  One browser is one cookie jar: its HTTP requests
are its other tabs, its websocket the page that stays open.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import websockets
from pyramid.authentication import SessionAuthenticationHelper
from pyramid.authorization import ACLHelper, Allow, Authenticated, Everyone
from pyramid.config import Configurator
from pyramid.security import forget, remember

from aiotao.mappers import WebsocketMapper
from aiotao.testing import TestClient
from aiotao.websocket import MessageHandlers, MessageRouter, requires
from tests.harness.gunicorn import ServerFactory, ServerProcess, gunicorn  # noqa: F401
from tests.harness.redis import RedisServer, redis_server  # noqa: F401

router = MessageRouter()


@router.on('post', permission='post')
async def post(ws: Any, message: dict[str, Any]) -> str:
    return f'posted {message.get("text")}'


@router.on('read')
async def read(ws: Any, message: dict[str, Any]) -> str:
    return 'anyone may read'


class Board(MessageHandlers):
    @requires('post')
    async def on_post(self, message: dict[str, Any]) -> str:
        return 'posted'


class AsyncSessionPolicy:
    """An async policy: identity from the session, permissions from an ACL."""

    def __init__(self) -> None:
        self.helper = SessionAuthenticationHelper()
        self.asked = 0

    async def identity(self, request: Any) -> Any:
        await asyncio.sleep(0)  # a database lookup
        self.asked += 1
        return self.helper.authenticated_userid(request)

    async def authenticated_userid(self, request: Any) -> Any:
        return await self.identity(request)

    async def permits(self, request: Any, context: Any, permission: str) -> Any:
        principals = [Everyone]
        if await self.identity(request) is not None:
            principals.append(Authenticated)
        return ACLHelper().permits(context, principals, permission)

    def remember(self, request: Any, userid: Any, **kw: Any) -> Any:
        return self.helper.remember(request, userid, **kw)

    def forget(self, request: Any, **kw: Any) -> Any:
        return self.helper.forget(request, **kw)


class Root:
    __acl__ = [(Allow, Authenticated, 'post')]

    def __init__(self, request: Any) -> None:
        pass


async def visit(request: Any) -> Any:
    request.session['visited'] = True  # the page gives the browser its session
    return request.response


async def login(request: Any) -> Any:
    request.response.headers.extend(remember(request, request.params['name']))
    return request.response


async def logout(request: Any) -> Any:
    request.response.headers.extend(forget(request))
    return request.response


async def invalidate(request: Any) -> Any:
    request.session.invalidate()
    return request.response


async def board(ws: Any) -> None:
    await router.serve(ws)


async def board_class(ws: Any) -> None:
    await Board(ws).serve()


def make_config(policy: Any, **settings: str) -> Configurator:
    config = Configurator(settings=settings, root_factory=Root)
    config.include('aiotao')
    config.include('aiotao.sessions')
    config.set_security_policy(policy)
    for name, view in [
        ('visit', visit),
        ('login', login),
        ('logout', logout),
        ('invalidate', invalidate),
    ]:
        config.add_route(name, f'/{name}')
        config.add_view(view, route_name=name)
    config.add_route('board', '/board')
    config.add_view(board, route_name='board', mapper=WebsocketMapper)
    config.add_route('board_class', '/board_class')
    config.add_view(board_class, route_name='board_class', mapper=WebsocketMapper)
    return config


async def ask(ws: Any, type: str, id: int) -> dict[str, Any]:
    await ws.send_json({'type': type, 'id': id, 'text': 'hi'})
    answer: dict[str, Any] = await ws.recv_json()
    assert answer['id'] == id
    return answer


@pytest.mark.parametrize('path', ['/board', '/board_class'])
async def test_permission_follows_login_and_logout_in_another_tab(path: str) -> None:
    policy = AsyncSessionPolicy()
    async with TestClient(make_config(policy)) as browser:
        await browser.get('/visit')
        async with browser.websocket_connect(path) as ws:
            refused = await ask(ws, 'post', 1)
            assert refused['type'] == 'error' and refused['code'] == 'forbidden'
            assert "'post' permission" in refused['message']

            await browser.post('/login', data={'name': 'ada'})  # another tab
            assert await ask(ws, 'post', 2) == {
                'type': 'reply',
                'id': 2,
                'data': 'posted hi' if path == '/board' else 'posted',
            }

            await browser.post('/logout')  # another tab again
            refused = await ask(ws, 'post', 3)
            assert refused['code'] == 'forbidden'
            # the connection is still open and still serves what needs no permission
            if path == '/board':
                assert (await ask(ws, 'read', 4))['data'] == 'anyone may read'


async def test_an_invalidated_session_is_seen_by_the_next_message() -> None:
    async with TestClient(make_config(AsyncSessionPolicy())) as browser:
        await browser.get('/visit')
        await browser.post('/login', data={'name': 'ada'})
        async with browser.websocket_connect('/board') as ws:
            assert (await ask(ws, 'post', 1))['type'] == 'reply'
            await browser.post('/invalidate')
            assert (await ask(ws, 'post', 2))['code'] == 'forbidden'


async def test_an_expired_session_is_seen_by_the_next_message() -> None:
    config = make_config(AsyncSessionPolicy(), **{'aiotao.session.timeout': '1'})
    async with TestClient(config) as browser:
        await browser.get('/visit')
        await browser.post('/login', data={'name': 'ada'})
        async with browser.websocket_connect('/board') as ws:
            assert (await ask(ws, 'post', 1))['type'] == 'reply'
            await asyncio.sleep(1.2)
            assert (await ask(ws, 'post', 2))['code'] == 'forbidden'


async def test_another_browser_logging_out_does_not_log_this_one_out() -> None:
    config = make_config(AsyncSessionPolicy())
    async with TestClient(config) as ada, TestClient(config) as bob:
        for browser, name in [(ada, 'ada'), (bob, 'bob')]:
            await browser.get('/visit')
            await browser.post('/login', data={'name': name})
        async with ada.websocket_connect('/board') as ws:
            await bob.post('/logout')
            assert (await ask(ws, 'post', 1))['type'] == 'reply'


async def test_each_message_asks_the_policy_again() -> None:
    policy = AsyncSessionPolicy()
    async with TestClient(make_config(policy)) as browser:
        await browser.get('/visit')
        await browser.post('/login', data={'name': 'ada'})
        async with browser.websocket_connect('/board') as ws:
            asked = policy.asked
            for id in range(3):
                assert (await ask(ws, 'post', id))['type'] == 'reply'
            assert policy.asked - asked >= 3


async def test_a_policy_that_fails_is_an_error_reply_not_a_crash() -> None:
    class Broken(AsyncSessionPolicy):
        async def permits(self, request: Any, context: Any, permission: str) -> Any:
            raise RuntimeError('the user database is down')

    async with TestClient(make_config(Broken())) as browser:
        async with browser.websocket_connect('/board') as ws:
            assert (await ask(ws, 'post', 1))['code'] == 'internal_error'
            assert (await ask(ws, 'read', 2))['type'] == 'reply'


async def test_a_message_router_checked_without_a_request_fails_closed() -> None:
    class NoRequest:
        request = None

    answer = await router.dispatch(NoRequest(), '{"type": "post", "id": 1}')
    assert answer is not None and answer['code'] == 'forbidden'


def test_a_permission_must_be_a_non_empty_string() -> None:
    async def handler(ws: Any, message: dict[str, Any]) -> None: ...

    with pytest.raises(ValueError, match='non-empty string'):
        MessageRouter().add('x', handler, permission='')


# -- across gunicorn masters, sessions in Redis -----------------------------


@pytest.mark.timeout(90)
async def test_a_logout_on_another_master_is_seen_by_the_next_message(
    gunicorn: ServerFactory,  # noqa: F811
    redis_server: RedisServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    ini = tmp_path / 'sessions.ini'
    ini.write_text(
        '[app:main]\n'
        'use = call:tests.pkgs.realtimeapp:sessions_main\n'
        f'aiotao.session.store = {redis_server.url}\n'
    )
    masters = [
        gunicorn(
            ['--paste', str(ini), '-k', 'aiotao.serving.gunicorn.Worker', '-w', '1'],
            ready_path='/hello',
        )
        for _ in range(2)
    ]
    socket_side, tab_side = masters
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def call(server: ServerProcess, path: str, data: bytes | None = None) -> Any:
        with browser.open(server.url(path), data=data, timeout=10) as response:
            return response.read()

    await asyncio.to_thread(call, tab_side, '/visit')
    # one browser: its cookie goes to both masters (127.0.0.1, another port)
    cookie = '; '.join(f'{c.name}={c.value}' for c in jar)
    async with websockets.connect(
        socket_side.url('/board', scheme='ws'), additional_headers={'Cookie': cookie}
    ) as ws:

        async def post(id: int) -> dict[str, Any]:
            await ws.send(json.dumps({'type': 'post', 'id': id, 'text': 'hi'}))
            async with asyncio.timeout(10):
                answer: dict[str, Any] = json.loads(await ws.recv())
            return answer

        assert (await post(1))['code'] == 'forbidden'
        await asyncio.to_thread(call, tab_side, '/login', b'name=ada')
        assert (await post(2))['data']['posted'] == 'hi'
        await asyncio.to_thread(call, tab_side, '/logout', b'')
        assert (await post(3))['code'] == 'forbidden'
