"""Security policies with async methods; security fails closed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPForbidden
from pyramid.request import Request
from pyramid.response import Response
from webtest import TestApp

from aiotao import AsyncRouter
from tests.conftest import send

MakeRouter = Callable[[], AsyncRouter]

USERS = {
    'alice-token': {'name': 'alice', 'perms': {'view', 'edit'}},
    'bob-token': {'name': 'bob', 'perms': {'view'}},
}


class AsyncTokenPolicy:
    """Looks users up 'in a database' (an await) from an X-Token header."""

    def __init__(self) -> None:
        self.lookups = 0

    async def identity(self, request: Any) -> dict[str, Any] | None:
        self.lookups += 1
        await asyncio.sleep(0)
        return USERS.get(request.headers.get('X-Token', ''))

    async def authenticated_userid(self, request: Any) -> str | None:
        identity = await self.identity(request)
        return identity['name'] if identity else None

    async def permits(self, request: Any, context: Any, permission: str) -> bool:
        identity = await self.identity(request)
        return identity is not None and permission in identity['perms']

    def remember(self, request: Any, userid: Any, **kw: Any) -> list[tuple[str, str]]:
        return []

    def forget(self, request: Any, **kw: Any) -> list[tuple[str, str]]:
        return []


async def edit(request: Any) -> dict[str, Any]:
    identity = await request.identity_async()
    return {'edited_by': identity['name']}


async def forbidden(request: Any) -> Response:
    await asyncio.sleep(0)
    return Response(f'no, {await request.authenticated_userid_async()}', status=403)


def add_edit_view(config: Configurator) -> None:
    config.set_security_policy(AsyncTokenPolicy())
    config.add_route('edit', '/edit')
    config.add_view(edit, route_name='edit', renderer='json', permission='edit')


async def test_async_policy_allows_permitted_user(
    config: Configurator, make_router: MakeRouter
) -> None:
    add_edit_view(config)
    response = await send(make_router(), '/edit', headers={'X-Token': 'alice-token'})
    assert response.status_int == 200
    assert response.json == {'edited_by': 'alice'}


async def test_async_policy_denies_to_async_forbidden_view(
    config: Configurator, make_router: MakeRouter
) -> None:
    add_edit_view(config)
    config.add_forbidden_view(forbidden)
    router = make_router()
    response = await send(router, '/edit', headers={'X-Token': 'bob-token'})
    assert response.status_int == 403
    assert response.text == 'no, bob'
    anonymous = await send(router, '/edit')
    assert anonymous.status_int == 403
    assert anonymous.text == 'no, None'


async def test_denied_without_forbidden_view_is_403(
    config: Configurator, make_router: MakeRouter
) -> None:
    add_edit_view(config)
    response = await send(make_router(), '/edit', headers={'X-Token': 'bob-token'})
    assert response.status_int == 403


def test_stock_pyramid_would_allow_everyone_with_an_async_permits() -> None:
    """Why aiotao replaces secured_view: the coroutine object is truthy."""

    def sync_edit(request: Any) -> Response:
        return Response('edited')

    config = Configurator(settings={})
    config.set_security_policy(AsyncTokenPolicy())
    config.add_route('edit', '/edit')
    config.add_view(sync_edit, route_name='edit', permission='edit')
    app = TestApp(config.make_wsgi_app())
    with pytest.warns(RuntimeWarning, match='never awaited'):
        response = app.get('/edit', headers={'X-Token': 'bob-token'})
        import gc

        gc.collect()
    assert response.text == 'edited'  # the hole aiotao closes


def test_aiotao_denies_the_same_request_under_wsgi() -> None:
    def sync_edit(request: Any) -> Response:
        return Response('edited')

    config = Configurator(settings={})
    config.include('aiotao')
    config.set_security_policy(AsyncTokenPolicy())
    config.add_route('edit', '/edit')
    config.add_view(sync_edit, route_name='edit', permission='edit')
    app = TestApp(config.make_wsgi_app())
    app.get('/edit', headers={'X-Token': 'bob-token'}, status=403)
    assert app.get('/edit', headers={'X-Token': 'alice-token'}).text == 'edited'


class AwaitableAnswerPolicy(AsyncTokenPolicy):
    """A buggy policy whose permits resolves to yet another awaitable."""

    async def permits(self, request: Any, context: Any, permission: str) -> Any:
        return asyncio.sleep(0, result=True)


async def test_an_awaitable_never_counts_as_permission(
    config: Configurator, make_router: MakeRouter
) -> None:
    config.set_security_policy(AwaitableAnswerPolicy())
    config.add_route('edit', '/edit')
    config.add_view(edit, route_name='edit', renderer='json', permission='edit')
    response = await send(make_router(), '/edit', headers={'X-Token': 'alice-token'})
    assert response.status_int == 403


async def test_sync_has_permission_fails_closed_and_names_the_async_counterpart(
    config: Configurator, make_router: MakeRouter
) -> None:
    answers: dict[str, Any] = {}

    async def inspect_view(request: Any) -> str:
        with pytest.warns(RuntimeWarning, match='has_permission_async'):
            answers['sync'] = request.has_permission('edit')
        with pytest.warns(RuntimeWarning, match='identity_async'):
            answers['identity'] = request.identity
        with pytest.warns(RuntimeWarning, match='authenticated_userid_async'):
            answers['is_authenticated'] = request.is_authenticated
        answers['async'] = await request.has_permission_async('edit')
        answers['async_identity'] = await request.identity_async()
        answers['async_is_authenticated'] = await request.is_authenticated_async()
        return 'ok'

    config.set_security_policy(AsyncTokenPolicy())
    config.add_route('inspect', '/inspect')
    config.add_view(inspect_view, route_name='inspect', renderer='string')
    await send(make_router(), '/inspect', headers={'X-Token': 'alice-token'})
    assert not answers['sync']
    assert answers['identity'] is None
    assert answers['is_authenticated'] is False
    assert answers['async']
    assert answers['async_identity']['name'] == 'alice'
    assert answers['async_is_authenticated'] is True


async def test_async_counterparts_with_a_sync_policy(
    config: Configurator, make_router: MakeRouter
) -> None:
    class SyncPolicy:
        def identity(self, request: Any) -> str:
            return 'carol'

        def authenticated_userid(self, request: Any) -> str:
            return 'carol'

        def permits(self, request: Any, context: Any, permission: str) -> bool:
            return permission == 'view'

    async def show(request: Any) -> dict[str, Any]:
        return {
            'identity': await request.identity_async(),
            'view': bool(await request.has_permission_async('view')),
            'edit': bool(await request.has_permission_async('edit')),
            'sync_view': bool(request.has_permission('view')),
        }

    config.set_security_policy(SyncPolicy())
    config.add_route('show', '/show')
    config.add_view(show, route_name='show', renderer='json', permission='view')
    response = await send(make_router(), '/show')
    assert response.json == {
        'identity': 'carol',
        'view': True,
        'edit': False,
        'sync_view': True,
    }


async def test_security_policy_set_in_a_later_commit_is_still_awaited(
    make_router: MakeRouter, config: Configurator
) -> None:
    config.add_route('edit', '/edit')
    config.add_view(edit, route_name='edit', renderer='json')
    config.commit()
    config.set_security_policy(AsyncTokenPolicy())
    config.add_route('admin', '/admin')
    config.add_view(edit, route_name='admin', renderer='json', permission='admin')
    router = make_router()
    assert (
        await send(router, '/admin', headers={'X-Token': 'alice-token'})
    ).status_int == 403


async def test_forbidden_is_raised_as_http_forbidden(
    config: Configurator, make_router: MakeRouter
) -> None:
    add_edit_view(config)
    router = make_router()
    request = Request.blank('/edit', headers={'X-Token': 'bob-token'})
    router._prepare(request)
    with pytest.raises(HTTPForbidden):
        await router.invoke_request(request, _use_tweens=False)
