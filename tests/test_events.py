"""Async subscribers are awaited, for Pyramid's events and for application events."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from pyramid.config import Configurator
from pyramid.events import BeforeTraversal, ContextFound, NewRequest, NewResponse

from aiotao import AsyncRouter, notify
from tests.conftest import send

MakeRouter = Callable[[], AsyncRouter]


async def test_events_in_order_and_async_subscribers_awaited(
    config: Configurator, make_router: MakeRouter
) -> None:
    seen: list[str] = []

    async def on_new_request(event: NewRequest) -> None:
        await asyncio.sleep(0)
        seen.append('NewRequest')
        event.request.tenant = 'acme'

    def on_before_traversal(event: BeforeTraversal) -> None:
        seen.append('BeforeTraversal')

    async def on_context_found(event: ContextFound) -> None:
        await asyncio.sleep(0)
        seen.append('ContextFound')

    async def on_new_response(event: NewResponse) -> None:
        await asyncio.sleep(0)
        seen.append('NewResponse')
        event.response.headers['X-Tenant'] = event.request.tenant

    async def view(request: Any) -> str:
        seen.append('view')
        return request.tenant

    config.add_subscriber(on_new_request, NewRequest)
    config.add_subscriber(on_before_traversal, BeforeTraversal)
    config.add_subscriber(on_context_found, ContextFound)
    config.add_subscriber(on_new_response, NewResponse)
    config.add_route('ev', '/ev')
    config.add_view(view, route_name='ev', renderer='string')
    response = await send(make_router(), '/ev')
    assert response.text == 'acme'
    assert response.headers['X-Tenant'] == 'acme'
    assert seen == [
        'NewRequest',
        'BeforeTraversal',
        'ContextFound',
        'view',
        'NewResponse',
    ]


class OrderPlaced:
    def __init__(self, order_id: int) -> None:
        self.order_id = order_id


async def test_notify_awaits_async_subscribers_of_app_events(
    config: Configurator, make_router: MakeRouter
) -> None:
    shipped: list[int] = []

    async def ship(event: OrderPlaced) -> None:
        await asyncio.sleep(0)
        shipped.append(event.order_id)

    config.add_subscriber(ship, OrderPlaced)
    router = make_router()
    await notify(router.registry, OrderPlaced(7))
    assert shipped == [7]
