"""The async pipeline does what Pyramid's router does, awaiting where it may."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from pyramid.config import Configurator
from pyramid.events import BeforeTraversal, ContextFound, NewRequest, NewResponse
from pyramid.httpexceptions import HTTPNotFound
from pyramid.request import Request
from pyramid.response import Response

from aiotao import AsyncRouter, notify
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


async def test_http_cache_applies_to_async_view(
    config: Configurator, make_router: MakeRouter
) -> None:
    async def cached(request: Any) -> str:
        await asyncio.sleep(0)
        return 'cached'

    config.add_route('cached', '/cached')
    config.add_view(cached, route_name='cached', renderer='string', http_cache=3600)
    response = await send(make_router(), '/cached')
    assert response.text == 'cached'
    assert response.cache_control.max_age == 3600
    assert response.expires is not None


async def test_decorator_wraps_async_view(
    config: Configurator, make_router: MakeRouter
) -> None:
    def add_header(view: Any) -> Any:
        async def decorated(context: Any, request: Any) -> Any:
            response = await view(context, request)
            response.headers['X-Decorated'] = 'yes'
            return response

        return decorated

    async def plain(request: Any) -> str:
        return 'decorated body'

    config.add_route('decorated', '/decorated')
    config.add_view(
        plain, route_name='decorated', renderer='string', decorator=add_header
    )
    response = await send(make_router(), '/decorated')
    assert response.text == 'decorated body'
    assert response.headers['X-Decorated'] == 'yes'


async def test_wrapper_view_wraps_async_view(
    config: Configurator, make_router: MakeRouter
) -> None:
    async def inner(request: Any) -> str:
        await asyncio.sleep(0)
        return 'inner'

    async def outer(request: Any) -> Response:
        await asyncio.sleep(0)
        return Response(f'<outer>{request.wrapped_body.decode()}</outer>')

    config.add_view(outer, name='outer')
    config.add_route('wrapped', '/wrapped')
    config.add_view(inner, route_name='wrapped', renderer='string', wrapper='outer')
    response = await send(make_router(), '/wrapped')
    assert response.text == '<outer>inner</outer>'


async def test_require_csrf_rejects_post_without_token(
    config: Configurator, make_router: MakeRouter
) -> None:
    from pyramid.session import SignedCookieSessionFactory

    config.set_session_factory(SignedCookieSessionFactory('secret-for-tests'))

    async def change(request: Any) -> str:
        return 'changed'

    config.add_route('change', '/change')
    config.add_view(change, route_name='change', renderer='string', require_csrf=True)
    router = make_router()
    denied = await send(
        router, '/change', method='POST', headers={'Origin': 'http://localhost'}
    )
    assert denied.status_int == 400
    assert 'CSRF' in denied.text
    # the safe method is not checked
    assert (await send(router, '/change')).text == 'changed'


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


async def test_view_returning_nothing_explains_the_fix(
    config: Configurator, make_router: MakeRouter
) -> None:
    async def forgot(request: Any) -> None:
        await asyncio.sleep(0)

    config.add_route('forgot', '/forgot')
    config.add_view(forgot, route_name='forgot')
    with pytest.raises(ValueError, match='You may have forgotten to return a value'):
        await send(make_router(), '/forgot')
