"""Subrequests, render_view_to_response and exception views from async and sync code."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response

from aiotao import AsyncRouter
from tests.conftest import send

MakeRouter = Callable[[], AsyncRouter]


class OrderFailed(Exception):
    pass


async def test_invoke_subrequest_async(
    config: Configurator, make_router: MakeRouter
) -> None:
    async def api(request: Any) -> dict[str, int]:
        await asyncio.sleep(0)
        return {'count': 3}

    async def page(request: Any) -> str:
        sub = await request.invoke_subrequest_async(Request.blank('/api'))
        return f'count is {sub.json["count"]}'

    config.add_route('api', '/api')
    config.add_route('page', '/page')
    config.add_view(api, route_name='api', renderer='json')
    config.add_view(page, route_name='page', renderer='string')
    assert (await send(make_router(), '/page')).text == 'count is 3'


async def test_sync_subrequest_from_a_sync_view_in_a_thread(
    config: Configurator, make_router: MakeRouter
) -> None:
    async def api(request: Any) -> dict[str, int]:
        await asyncio.sleep(0)
        return {'count': 5}

    def legacy_page(request: Any) -> str:
        # a legacy sync view (run in a worker thread) uses the sync API
        sub = request.invoke_subrequest(Request.blank('/api'))
        return f'count is {sub.json["count"]}'

    config.add_route('api', '/api')
    config.add_route('legacy', '/legacy')
    config.add_view(api, route_name='api', renderer='json')
    config.add_view(legacy_page, route_name='legacy', renderer='string')
    assert (await send(make_router(), '/legacy')).text == 'count is 5'


async def test_render_view_to_response_async(
    config: Configurator, make_router: MakeRouter
) -> None:
    from aiotao.view import render_view_to_response_async

    async def panel(request: Any) -> str:
        await asyncio.sleep(0)
        return 'panel body'

    async def page(request: Any) -> str:
        response = await render_view_to_response_async(
            request.context, request, name='panel'
        )
        return f'[{response.text}]'

    config.add_view(panel, name='panel', renderer='string')
    config.add_route('page', '/page')
    config.add_view(page, route_name='page', renderer='string')
    assert (await send(make_router(), '/page')).text == '[panel body]'


async def test_invoke_exception_view_from_sync_view_reaches_async_exception_view(
    config: Configurator, make_router: MakeRouter
) -> None:
    async def failure_page(exc: OrderFailed, request: Any) -> Response:
        await asyncio.sleep(0)
        return Response(f'handled: {exc}', status=500)

    def legacy(request: Any) -> Any:
        try:
            raise OrderFailed('legacy failure')
        except OrderFailed:
            return request.invoke_exception_view()

    config.add_exception_view(failure_page, context=OrderFailed)
    config.add_route('legacy', '/legacy')
    config.add_view(legacy, route_name='legacy')
    response = await send(make_router(), '/legacy')
    assert response.text == 'handled: legacy failure'
