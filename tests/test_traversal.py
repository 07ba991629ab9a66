"""Traversal with an async root factory and ``async def __getitem__``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pyramid.config import Configurator

from aiotao import make_async_app
from tests.conftest import send

TREE = {'docs': {'guide': {'intro': {}}, 'api': {}}}


class Resource:
    def __init__(
        self, name: str, parent: Resource | None, children: dict[str, Any]
    ) -> None:
        self.__name__ = name
        self.__parent__ = parent
        self.children = children

    async def __getitem__(self, name: str) -> Resource:
        await asyncio.sleep(0)  # a database lookup
        if name not in self.children:
            raise KeyError(name)
        return Resource(name, self, self.children[name])


async def root_factory(request: Any) -> Resource:
    await asyncio.sleep(0)
    return Resource('', None, TREE)


async def show(context: Resource, request: Any) -> dict[str, Any]:
    return {
        'context': context.__name__,
        'view_name': request.view_name,
        'subpath': list(request.subpath),
        'traversed': list(request.traversed),
    }


async def edit(context: Resource, request: Any) -> str:
    return f'editing {context.__name__}'


@pytest.fixture
def router(config: Configurator) -> Any:
    config.set_root_factory(root_factory)
    config.add_view(show, context=Resource, renderer='json')
    config.add_view(edit, context=Resource, name='edit', renderer='string')
    return make_async_app(config)


async def test_root(router: Any) -> None:
    response = await send(router, '/')
    assert response.json == {
        'context': '',
        'view_name': '',
        'subpath': [],
        'traversed': [],
    }


async def test_async_getitem_walks_the_tree(router: Any) -> None:
    response = await send(router, '/docs/guide/intro')
    assert response.json == {
        'context': 'intro',
        'view_name': '',
        'subpath': [],
        'traversed': ['docs', 'guide', 'intro'],
    }


async def test_key_error_at_await_time_ends_traversal_with_a_view_name(
    router: Any,
) -> None:
    response = await send(router, '/docs/edit')
    assert response.text == 'editing docs'


async def test_view_selector_and_subpath(router: Any) -> None:
    response = await send(router, '/docs/@@edit')
    assert response.text == 'editing docs'


async def test_unknown_name_without_view_is_404(router: Any) -> None:
    response = await send(router, '/docs/missing/deeper')
    assert response.status_int == 404


async def test_route_with_traverse_pattern(config: Configurator) -> None:
    config.add_route('section', '/section/*traverse', factory=root_factory)
    config.add_view(show, route_name='section', renderer='json')
    response = await send(make_async_app(config), '/section/docs/api')
    assert response.json['context'] == 'api'
    assert response.json['traversed'] == ['docs', 'api']


async def test_sync_resources_still_traverse(config: Configurator) -> None:
    class SyncFolder(dict[str, Any]):
        __name__ = ''
        __parent__ = None

    root = SyncFolder()
    child = SyncFolder()
    child.__name__ = 'child'
    root['child'] = child

    async def who(context: Any, request: Any) -> str:
        return f'at {context.__name__ or "root"}'

    config.set_root_factory(lambda request: root)
    config.add_view(who, renderer='string')
    router = make_async_app(config)
    assert (await send(router, '/child')).text == 'at child'
    assert (await send(router, '/')).text == 'at root'
