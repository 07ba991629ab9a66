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


# -- a derived view stays a Pyramid view -----------------------------------------


def test_a_derived_sync_view_is_a_pyramid_view() -> None:
    """Looked up and called as add-ons do, it returns a response, in this thread."""
    import inspect
    import threading

    from pyramid.interfaces import IRequest, IView, IViewClassifier
    from zope.interface import Interface

    def plain(context: Any, request: Any) -> Response:
        return Response(threading.current_thread().name)

    config = Configurator(settings={})
    config.include('aiotao')
    config.add_view(plain, name='plain')
    config.commit()
    registered = config.registry.adapters.lookup(
        (IViewClassifier, IRequest, Interface), IView, name='plain'
    )
    assert not inspect.iscoroutinefunction(registered)
    response = registered(None, Request.blank('/'))
    assert isinstance(response, Response)
    assert response.text == threading.current_thread().name


def test_render_view_to_response_gets_responses_from_sync_code() -> None:
    """Pyramid's sync API, from a thread with no loop: sync and async views answer."""
    from pyramid.view import render_view_to_response

    async def panel(request: Any) -> str:
        await asyncio.sleep(0)
        return 'async panel'

    def legacy_panel(request: Any) -> str:
        return 'sync panel'

    config = Configurator(settings={})
    config.include('aiotao')
    config.add_view(panel, name='panel', renderer='string')
    config.add_view(legacy_panel, name='legacy', renderer='string')
    app = config.make_wsgi_app()
    request = Request.blank('/')
    request.registry = app.registry
    assert render_view_to_response(None, request, 'panel').text == 'async panel'
    assert render_view_to_response(None, request, 'legacy').text == 'sync panel'


async def test_a_sync_call_of_an_async_view_on_the_loop_names_the_await(
    config: Configurator, make_router: MakeRouter
) -> None:
    from pyramid.view import render_view_to_response

    async def panel(request: Any) -> str:
        return 'panel'

    async def page(request: Any) -> str:
        try:
            render_view_to_response(request.context, request, 'panel')
        except RuntimeError as error:
            return str(error)
        return 'no error'

    config.add_view(panel, name='panel', renderer='string')
    config.add_route('page', '/page')
    config.add_view(page, route_name='page', renderer='string')
    message = (await send(make_router(), '/page')).text
    assert 'render_view_to_response_async' in message
    assert 'panel is async' in message


async def test_a_sync_exception_view_handles_the_active_exception(
    config: Configurator, make_router: MakeRouter
) -> None:
    import sys

    async def failing(request: Any) -> str:
        await asyncio.sleep(0)  # raised after an await, on the loop
        raise OrderFailed('no stock')

    def report(exc: OrderFailed, request: Any) -> Response:
        active = sys.exc_info()[1]
        try:
            raise  # a bare raise re-raises the exception being handled
        except OrderFailed as again:
            return Response(f'{again is exc is active} {exc}', status=409)

    config.add_route('failing', '/failing')
    config.add_view(failing, route_name='failing')
    config.add_exception_view(report, context=OrderFailed)
    response = await send(make_router(), '/failing')
    assert (response.status_int, response.text) == (409, 'True no stock')
