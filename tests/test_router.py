"""The async pipeline does what Pyramid's router does, awaiting where it may."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPNotFound
from pyramid.response import Response

from aiotao import AsyncRouter
from tests.conftest import send

MakeRouter = Callable[[], AsyncRouter]


class OrderFailed(Exception):
    pass


async def test_route_predicates_choose_the_route(
    config: Configurator, make_router: MakeRouter
) -> None:
    async def read(request: Any) -> str:
        return 'read'

    async def write(request: Any) -> str:
        return 'write'

    config.add_route('item_get', '/item', request_method='GET')
    config.add_route('item_post', '/item', request_method='POST')
    config.add_view(read, route_name='item_get', renderer='string')
    config.add_view(write, route_name='item_post', renderer='string')
    router = make_router()
    assert (await send(router, '/item')).text == 'read'
    assert (await send(router, '/item', method='POST')).text == 'write'


async def test_multiview_falls_through_on_predicate_mismatch(
    config: Configurator, make_router: MakeRouter
) -> None:
    async def for_json(request: Any) -> dict[str, str]:
        await asyncio.sleep(0)
        return {'picked': 'json'}

    async def for_param(request: Any) -> str:
        await asyncio.sleep(0)
        return 'picked param'

    async def fallback(request: Any) -> str:
        await asyncio.sleep(0)
        return 'picked fallback'

    config.add_route('thing', '/thing')
    config.add_view(for_json, route_name='thing', renderer='json', header='X-Want-Json')
    config.add_view(
        for_param, route_name='thing', renderer='string', request_param='special'
    )
    config.add_view(fallback, route_name='thing', renderer='string')
    router = make_router()
    assert (await send(router, '/thing', headers={'X-Want-Json': '1'})).json == {
        'picked': 'json'
    }
    assert (await send(router, '/thing?special=1')).text == 'picked param'
    assert (await send(router, '/thing')).text == 'picked fallback'


async def test_view_predicate_mismatch_without_fallback_is_404(
    config: Configurator, make_router: MakeRouter
) -> None:
    async def only_post(request: Any) -> str:
        return 'posted'

    config.add_route('form', '/form')
    config.add_view(
        only_post, route_name='form', renderer='string', request_method='POST'
    )
    router = make_router()
    assert (await send(router, '/form')).status_int == 404
    assert (await send(router, '/form', method='POST')).text == 'posted'


async def test_unmatched_url_is_404(make_router: MakeRouter) -> None:
    response = await send(make_router(), '/nowhere')
    assert response.status_int == 404


async def test_async_exception_view_for_error_raised_after_await(
    config: Configurator, make_router: MakeRouter
) -> None:
    async def buy(request: Any) -> str:
        request.response.headers['X-From-Failed-View'] = 'leaked'
        await asyncio.sleep(0)
        raise OrderFailed('out of stock')

    async def order_failed(exc: OrderFailed, request: Any) -> Response:
        await asyncio.sleep(0)
        response = request.response
        response.status_int = 409
        response.text = f'sorry: {exc}'
        return response

    config.add_route('buy', '/buy')
    config.add_view(buy, route_name='buy', renderer='string')
    config.add_exception_view(order_failed, context=OrderFailed)
    response = await send(make_router(), '/buy')
    assert response.status_int == 409
    assert response.text == 'sorry: out of stock'
    # the exception view got a fresh request.response, not the failed view's
    assert 'X-From-Failed-View' not in response.headers


async def test_http_not_found_raised_in_async_view(
    config: Configurator, make_router: MakeRouter
) -> None:
    async def missing(request: Any) -> str:
        await asyncio.sleep(0)
        raise HTTPNotFound('no such widget')

    async def not_found(request: Any) -> Response:
        return Response(f'custom 404: {request.exception.detail}', status=404)

    config.add_route('widget', '/widget')
    config.add_view(missing, route_name='widget')
    config.add_notfound_view(not_found)
    response = await send(make_router(), '/widget')
    assert response.status_int == 404
    assert response.text == 'custom 404: no such widget'


async def test_unhandled_exception_propagates(
    config: Configurator, make_router: MakeRouter
) -> None:
    async def broken(request: Any) -> str:
        await asyncio.sleep(0)
        raise OrderFailed('nobody handles me')

    config.add_route('broken', '/broken')
    config.add_view(broken, route_name='broken')
    with pytest.raises(OrderFailed, match='nobody handles me'):
        await send(make_router(), '/broken')


async def test_response_and_finished_callbacks_run_in_order(
    config: Configurator, make_router: MakeRouter
) -> None:
    calls: list[str] = []

    async def async_response_callback(request: Any, response: Any) -> None:
        await asyncio.sleep(0)
        calls.append('async response callback')
        response.headers['X-Callback'] = 'ran'

    async def view(request: Any) -> str:
        request.add_response_callback(
            lambda req, resp: calls.append('response callback')
        )
        request.add_response_callback(async_response_callback)
        request.add_finished_callback(lambda req: calls.append('finished callback'))
        await asyncio.sleep(0)
        calls.append('view')
        return 'ok'

    config.add_route('cb', '/cb')
    config.add_view(view, route_name='cb', renderer='string')
    response = await send(make_router(), '/cb')
    assert response.headers['X-Callback'] == 'ran'
    assert calls == [
        'view',
        'response callback',
        'async response callback',
        'finished callback',
    ]


async def test_finished_callbacks_run_when_the_view_fails(
    config: Configurator, make_router: MakeRouter
) -> None:
    finished: list[str] = []

    async def view(request: Any) -> str:
        request.add_finished_callback(lambda req: finished.append('finished'))
        await asyncio.sleep(0)
        raise OrderFailed('boom')

    config.add_route('fail', '/fail')
    config.add_view(view, route_name='fail')
    with pytest.raises(OrderFailed):
        await send(make_router(), '/fail')
    assert finished == ['finished']


async def test_finished_callbacks_run_when_the_request_is_cancelled(
    config: Configurator, make_router: MakeRouter
) -> None:
    finished: list[str] = []
    started = asyncio.Event()

    async def slow(request: Any) -> str:
        request.add_finished_callback(lambda req: finished.append('finished'))
        started.set()
        await asyncio.sleep(30)
        return 'never'

    config.add_route('slow', '/slow')
    config.add_view(slow, route_name='slow', renderer='string')
    task = asyncio.ensure_future(send(make_router(), '/slow'))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert finished == ['finished']
