"""``@cache``: keys, single-flight, expiry and invalidation, on views and functions."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pyramid import testing
from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response

from aiotao import make_async_app
from aiotao.cache import CacheKey, Hit, backend_for, cache
from aiotao.cache.backend import ICacheBackend
from tests.conftest import send


@pytest.fixture
def cache_config(config: Configurator) -> Configurator:
    config.include('aiotao.cache')  # a memory backend of the app's own
    return config


async def test_50_concurrent_misses_compute_once(cache_config: Configurator) -> None:
    computed: list[str] = []
    release = asyncio.Event()

    @cache('report', expire=60)
    async def report(request: Any) -> dict[str, int]:
        computed.append(request.matchdict['year'])
        await release.wait()  # every request arrives while it computes
        return {'rows': 1000}

    cache_config.add_route('report', '/report/{year}')
    cache_config.add_view(report, route_name='report', renderer='json')
    router = make_async_app(cache_config)
    requests = [asyncio.ensure_future(send(router, '/report/2024')) for _ in range(50)]
    while not computed:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    release.set()
    responses = await asyncio.gather(*requests)
    assert [r.json for r in responses] == [{'rows': 1000}] * 50
    assert computed == ['2024']
    assert (await send(router, '/report/2024')).json == {'rows': 1000}
    assert computed == ['2024']


async def test_a_failed_computation_reaches_every_waiter_and_is_not_cached() -> None:
    calls = 0

    @cache('flaky', expire=60)
    async def flaky(n: int) -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        if calls == 1:
            raise ConnectionError('upstream down')
        return n * 2

    results = await asyncio.gather(
        *(flaky(21) for _ in range(50)), return_exceptions=True
    )
    assert calls == 1
    assert all(isinstance(r, ConnectionError) for r in results)
    assert await flaky(21) == 42  # recomputed: the failure was not cached
    assert await flaky(21) == 42
    assert calls == 2
    await cache.invalidate('flaky')


async def test_a_cancelled_caller_does_not_cancel_the_others() -> None:
    computed = 0

    @cache('slow', expire=60)
    async def slow() -> str:
        nonlocal computed
        computed += 1
        await asyncio.sleep(0.1)
        return 'done'

    first = asyncio.ensure_future(slow())
    await asyncio.sleep(0.01)
    second = asyncio.ensure_future(slow())
    await asyncio.sleep(0.01)
    first.cancel()
    assert await second == 'done'
    assert first.cancelled()
    assert computed == 1
    await cache.invalidate('slow')


async def test_entries_expire() -> None:
    computed: list[float] = []

    @cache('clock', expire=0.3)
    async def clock() -> int:
        computed.append(asyncio.get_running_loop().time())
        return len(computed)

    assert await clock() == 1
    assert await clock() == 1
    await asyncio.sleep(0.35)
    assert await clock() == 2
    await cache.invalidate('clock')


async def test_function_keys_are_the_arguments_and_invalidation_drops_them() -> None:
    computed: list[tuple[str, bool]] = []

    @cache('rate', expire=60)
    async def rate(currency: str, *, live: bool = False) -> str:
        computed.append((currency, live))
        return f'{currency}:{len(computed)}'

    assert await rate('EUR') == 'EUR:1'
    assert await rate('USD') == 'USD:2'
    assert await rate('EUR', live=True) == 'EUR:3'
    assert await rate('EUR') == 'EUR:1'
    assert await cache.invalidate('rate', 'EUR') == 1
    assert await rate('EUR') == 'EUR:4'
    assert await rate('USD') == 'USD:2'
    assert await cache.invalidate('rate') == 3
    assert await rate('USD') == 'USD:5'
    await cache.invalidate('rate')


async def test_view_keys_are_matchdict_and_query_string(
    cache_config: Configurator,
) -> None:
    computed: list[str] = []

    @cache('article', expire=60)
    async def article(request: Any) -> str:
        computed.append(request.path_qs)
        return f'article {request.matchdict["id"]} #{len(computed)}'

    cache_config.add_route('article', '/articles/{id}')
    cache_config.add_view(article, route_name='article', renderer='string')
    router = make_async_app(cache_config)

    async def get(path: str) -> str:
        response = await send(router, path)
        assert response.status_int == 200
        return str(response.text)

    assert await get('/articles/3') == 'article 3 #1'
    assert await get('/articles/3') == 'article 3 #1'
    assert await get('/articles/4') == 'article 4 #2'
    assert await get('/articles/3?a=1&b=2') == 'article 3 #3'
    assert await get('/articles/3?b=2&a=1') == 'article 3 #3'  # order does not matter
    assert await get('/articles/3?a=2') == 'article 3 #4'

    async def invalidate_in_a_view(request: Any) -> str:
        return str(await cache.invalidate('article', id=request.matchdict['id']))

    # invalidation during another request uses that request's backend
    cache_config.add_route('invalidate', '/invalidate/{id}')
    cache_config.add_view(
        invalidate_in_a_view, route_name='invalidate', renderer='string'
    )
    router = make_async_app(cache_config)
    assert await get('/invalidate/3') == '3'  # every query string of article 3
    assert await get('/articles/4') == 'article 4 #2'
    assert await get('/articles/3') == 'article 3 #5'


async def test_a_cached_response_is_a_new_object_each_time_without_cookies(
    cache_config: Configurator,
) -> None:
    computed = 0

    @cache('page', expire=60)
    async def page(request: Any) -> Response:
        nonlocal computed
        computed += 1
        response = Response('<h1>news</h1>', content_type='text/html')
        response.set_cookie('session', 'visitor-one')
        response.headers['X-Computed'] = str(computed)
        return response

    cache_config.add_route('page', '/')
    cache_config.add_view(page, route_name='page')
    router = make_async_app(cache_config)
    one = await router.handle(Request.blank('/').environ)
    two = await router.handle(Request.blank('/').environ)
    assert one is not two
    for response in (one, two):
        assert response.text == '<h1>news</h1>'
        assert response.content_type == 'text/html'
        assert response.headers['X-Computed'] == '1'
        assert 'Set-Cookie' not in response.headers
    one.headers['X-Changed'] = 'by a tween'
    again = await router.handle(Request.blank('/').environ)
    assert 'X-Changed' not in again.headers
    assert computed == 1


async def test_functions_called_in_a_request_use_the_apps_backend(
    cache_config: Configurator,
) -> None:
    @cache('square', expire=60)
    async def square(n: int) -> int:
        return n * n

    async def view(request: Any) -> str:
        return str(await square(int(request.params['n'])))

    cache_config.add_route('square', '/square')
    cache_config.add_view(view, route_name='square', renderer='string')
    router = make_async_app(cache_config)
    assert (await send(router, '/square?n=7')).text == '49'
    app_backend = router.registry.getUtility(ICacheBackend)
    assert await app_backend.get(CacheKey.for_call('square', (7,), {})) == Hit(49)
    assert await backend_for(None).get(CacheKey.for_call('square', (7,), {})) is None


async def test_context_request_and_class_views_are_cached(
    cache_config: Configurator,
) -> None:
    computed: list[str] = []

    @cache('ctx', expire=60)
    async def with_context(context: Any, request: Any) -> str:
        computed.append('ctx')
        return f'ctx {len(computed)}'

    class Dashboard:
        def __init__(self, request: Any) -> None:
            self.request = request

        @cache('dashboard', expire=60)
        async def __call__(self) -> str:
            computed.append('dash')
            return f'dash {self.request.matchdict["who"]} {len(computed)}'

    cache_config.add_route('ctx', '/ctx')
    cache_config.add_view(with_context, route_name='ctx', renderer='string')
    cache_config.add_route('dash', '/dash/{who}')
    cache_config.add_view(Dashboard, route_name='dash', renderer='string')
    router = make_async_app(cache_config)
    assert (await send(router, '/ctx')).text == 'ctx 1'
    assert (await send(router, '/ctx')).text == 'ctx 1'
    assert (await send(router, '/dash/ann')).text == 'dash ann 2'
    assert (await send(router, '/dash/ann')).text == 'dash ann 2'
    assert (await send(router, '/dash/bob')).text == 'dash bob 3'


async def test_a_view_unit_test_with_a_dummy_request_works() -> None:
    @cache('home', expire=60)
    async def home(request: Any) -> dict[str, str]:
        return {'hello': request.params.get('name', 'world')}

    testing.setUp()
    try:
        assert await home(testing.DummyRequest()) == {'hello': 'world'}
        assert await home(testing.DummyRequest(params={'name': 'ann'})) == {
            'hello': 'ann'
        }
        await cache.invalidate('home')
    finally:
        testing.tearDown()


def test_only_coroutines_can_be_cached() -> None:
    with pytest.raises(TypeError, match=r'make .* async def'):

        @cache('sync')
        def sync_view(request: Any) -> str:
            return 'no'


def test_expire_must_be_positive_and_name_given() -> None:
    with pytest.raises(ValueError, match='expire must be positive'):
        cache('x', expire=0)
    with pytest.raises(TypeError, match='needs a name'):
        cache('')


async def test_arguments_must_be_json_values() -> None:
    @cache('objects')
    async def describe(thing: object) -> str:
        return repr(thing)

    with pytest.raises(
        TypeError, match=r"@cache\('objects'\): the arguments must be JSON"
    ):
        await describe(object())
