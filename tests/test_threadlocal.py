"""get_current_request() is per request, even with requests interleaved on one loop."""

from __future__ import annotations

import asyncio
import contextvars
import random
from collections.abc import Iterator
from typing import Any

import pytest
from pyramid import threadlocal
from pyramid.config import Configurator
from pyramid.registry import global_registry
from pyramid.threadlocal import (
    ThreadLocalManager,
    get_current_registry,
    get_current_request,
)

from aiotao import make_async_app
from aiotao.threadlocal import ContextLocalManager
from tests.conftest import send


async def who_am_i(request: Any) -> dict[str, Any]:
    seen = []
    for _ in range(3):
        # yield to the other requests in between, in a random order
        await asyncio.sleep(random.random() / 100)
        current = get_current_request()
        seen.append(current.params['n'] if current is not None else None)
    return {
        'mine': request.params['n'],
        'seen': seen,
        'registry_ok': get_current_registry() is request.registry,
    }


@pytest.fixture
def router(config: Configurator) -> Any:
    config.add_route('who', '/who')
    config.add_view(who_am_i, route_name='who', renderer='json')
    return make_async_app(config)


async def serve_interleaved(router: Any, count: int = 20) -> list[dict[str, Any]]:
    responses = await asyncio.gather(
        *(send(router, f'/who?n={n}') for n in range(count))
    )
    return [r.json for r in responses]


async def test_twenty_interleaved_requests_each_see_their_own(router: Any) -> None:
    results = await serve_interleaved(router)
    assert len(results) == 20
    for result in results:
        assert result['seen'] == [result['mine']] * 3
        assert result['registry_ok']


@pytest.fixture
def unpatched_manager() -> Iterator[None]:
    """Pyramid's manager as stock Pyramid has it: one threading.local stack."""
    manager = threadlocal.manager
    manager.__class__ = ThreadLocalManager
    manager.stack = []
    try:
        yield
    finally:
        manager.__class__ = ContextLocalManager


async def test_the_same_requests_mix_up_on_an_unpatched_manager(
    router: Any, unpatched_manager: None
) -> None:
    results = await serve_interleaved(router)
    mixed_up = [r for r in results if r['seen'] != [r['mine']] * 3]
    assert mixed_up, "stock Pyramid should hand requests each other's request"


async def test_sync_view_in_a_thread_sees_its_request(config: Configurator) -> None:
    def legacy(request: Any) -> str:
        return 'same' if get_current_request() is request else 'different'

    config.add_route('legacy', '/legacy')
    config.add_view(legacy, route_name='legacy', renderer='string')
    router = make_async_app(config)
    responses = await asyncio.gather(*(send(router, '/legacy') for _ in range(10)))
    assert {r.text for r in responses} == {'same'}


def test_push_pop_get_behave_like_pyramids() -> None:
    def check() -> None:
        manager = threadlocal.manager
        assert isinstance(manager, ContextLocalManager)
        assert manager.pop() is None  # an empty stack pops nothing
        assert manager.get() == {'request': None, 'registry': global_registry}
        manager.push({'request': 'r1', 'registry': 'g1'})
        manager.push({'request': 'r2', 'registry': 'g2'})
        assert get_current_request() == 'r2'
        assert get_current_registry() == 'g2'
        assert manager.pop() == {'request': 'r2', 'registry': 'g2'}
        assert get_current_request() == 'r1'
        manager.clear()
        assert get_current_request() is None

    contextvars.Context().run(check)


async def test_a_task_never_changes_what_its_parent_sees() -> None:
    manager = threadlocal.manager
    manager.push({'request': 'parent', 'registry': None})
    try:

        async def child() -> None:
            manager.push({'request': 'child', 'registry': None})
            await asyncio.sleep(0)

        await asyncio.create_task(child())
        assert get_current_request() == 'parent'
    finally:
        manager.pop()


async def test_handle_leaves_the_stack_as_it_found_it(config: Configurator) -> None:
    # the router pushes through the context variable directly (not through
    # manager.push): what was current before a request is current after it,
    # when the view raised too
    async def failing(request: Any) -> Any:
        assert get_current_request() is request
        raise ValueError('boom')

    config.add_route('who', '/who')
    config.add_view(who_am_i, route_name='who', renderer='json')
    config.add_route('fail', '/fail')
    config.add_view(failing, route_name='fail')
    router = make_async_app(config)
    outer = {'request': 'outer', 'registry': global_registry}
    threadlocal.manager.push(outer)
    try:
        response = await send(router, '/who?n=1')
        assert response.json['seen'] == ['1', '1', '1']
        assert threadlocal.manager.get() is outer
        with pytest.raises(ValueError, match='boom'):
            await send(router, '/fail')
        assert threadlocal.manager.get() is outer
    finally:
        threadlocal.manager.pop()
