"""The MongoDB cache backend, on the development server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pyramid.config import Configurator
from pyramid.response import Response

from aiotao import AsyncRouter, lifecycle, make_async_app
from aiotao.cache import cache
from aiotao.mongo import get_database
from tests.conftest import send
from tests.harness.gunicorn import ServerFactory
from tests.pkgs.mongoapp.served import serve

computed: list[str] = []


@cache('catalog', expire=30)
async def catalog(request: Any) -> dict[str, Any]:
    computed.append(request.matchdict['shop'])
    await asyncio.sleep(0.1)
    return {'shop': request.matchdict['shop'], 'items': (1, 2, 3)}


@cache('banner', expire=30)
async def banner(request: Any) -> Response:
    computed.append('banner')
    return Response(b'\x89PNG...', content_type='image/png')


@asynccontextmanager
async def mongo_cached_app(mongo_uri: str) -> AsyncIterator[AsyncRouter]:
    config = Configurator(settings={'mongo.uri': mongo_uri, 'cache.backend': 'mongo'})
    config.include('aiotao')
    config.include('aiotao.cache')
    config.add_route('catalog', '/catalog/{shop}')
    config.add_view(catalog, route_name='catalog', renderer='json')
    config.add_route('banner', '/banner')
    config.add_view(banner, route_name='banner')
    router = make_async_app(config)
    await lifecycle.start(router.registry)
    try:
        yield router
    finally:
        await lifecycle.stop(router.registry)


@pytest.fixture(autouse=True)
def forget_computations() -> None:
    computed.clear()


async def test_entries_are_shared_by_apps_with_their_own_clients(
    mongo_uri: str,
) -> None:
    async with mongo_cached_app(mongo_uri) as one, mongo_cached_app(mongo_uri) as two:
        first = await send(one, '/catalog/north')
        # stored as BSON: the tuple comes back as a list
        assert first.json == {'shop': 'north', 'items': [1, 2, 3]}
        assert (await send(two, '/catalog/north')).json == first.json
        assert computed == ['north']
        entries = get_database(one.registry).aiotao_cache
        [document] = await entries.find().to_list(None)
        assert document['name'] == 'catalog'
        assert document['args'] == '[[],{"shop":"north"}]'


async def test_50_concurrent_misses_compute_once(mongo_uri: str) -> None:
    async with mongo_cached_app(mongo_uri) as router:
        responses = await asyncio.gather(
            *(send(router, '/catalog/south') for _ in range(50))
        )
        assert {r.status_int for r in responses} == {200}
        assert computed == ['south']


async def test_expired_entries_are_misses_before_the_ttl_sweep(mongo_uri: str) -> None:
    @cache('ticket', expire=1.0)
    async def ticket() -> int:
        computed.append('ticket')
        return len(computed)

    async with mongo_cached_app(mongo_uri) as router:

        async def view(request: Any) -> str:
            return str(await ticket())

        # functions reach the backend through the current registry
        config = Configurator(registry=router.registry)
        config.add_route('ticket', '/ticket')
        config.add_view(view, route_name='ticket', renderer='string')
        config.commit()
        assert (await send(router, '/ticket')).text == '1'
        assert (await send(router, '/ticket')).text == '1'
        await asyncio.sleep(1.1)
        assert (await send(router, '/ticket')).text == '2'
        indexes = await get_database(router.registry).aiotao_cache.index_information()
        assert indexes['expires_1']['expireAfterSeconds'] == 0


async def test_invalidation_reaches_every_app(mongo_uri: str) -> None:
    async with mongo_cached_app(mongo_uri) as one, mongo_cached_app(mongo_uri) as two:
        for shop in ('north', 'south'):
            await send(one, f'/catalog/{shop}')
        assert (
            await cache.invalidate('catalog', registry=two.registry, shop='north') == 1
        )
        await send(one, '/catalog/north')
        await send(one, '/catalog/south')
        assert computed == ['north', 'south', 'north']
        assert await cache.invalidate('catalog', registry=one.registry) == 2


async def test_responses_are_stored_as_status_headers_and_body(mongo_uri: str) -> None:
    async with mongo_cached_app(mongo_uri) as one, mongo_cached_app(mongo_uri) as two:
        await send(one, '/banner')
        response = await send(two, '/banner')
        assert response.body == b'\x89PNG...'
        assert response.content_type == 'image/png'
        assert computed == ['banner']


async def test_a_value_bson_cannot_store_is_a_type_error(mongo_uri: str) -> None:
    @cache('weird', expire=30)
    async def weird() -> dict[int, str]:
        return {1: 'int keys are not BSON'}

    async with mongo_cached_app(mongo_uri) as router:
        config = Configurator(registry=router.registry)

        async def view(request: Any) -> str:
            return str(await weird())

        config.add_route('weird', '/weird')
        config.add_view(view, route_name='weird', renderer='string')
        config.commit()
        with pytest.raises(
            TypeError, match=r"@cache\('weird'\) with cache.backend = mongo"
        ):
            await send(router, '/weird')


@pytest.mark.timeout(90)
async def test_two_worker_processes_share_the_cache(
    gunicorn: ServerFactory, tmp_path: Path, mongo_uri: str, mongo_db: Any
) -> None:
    server = serve(
        gunicorn,
        tmp_path,
        workers=2,
        **{
            'mongo.uri': mongo_uri,
            'test.includes': 'aiotao.cache',
            'cache.backend': 'mongo',
        },
    )
    connector = aiohttp.TCPConnector(force_close=True)  # a new connection each
    async with aiohttp.ClientSession(connector=connector) as session:

        async def get(path: str) -> tuple[int, dict[str, Any]]:
            async with session.get(server.url(path)) as response:
                assert response.status == 200
                return int(response.headers['X-Worker']), await response.json()

        _, first = await get('/cached/apple')
        served_by: set[int] = set()
        deadline = asyncio.get_running_loop().time() + 20
        while len(served_by) < 2:  # until both workers answered from the cache
            assert asyncio.get_running_loop().time() < deadline, served_by
            for worker, body in await asyncio.gather(
                *(get('/cached/apple') for _ in range(20))
            ):
                assert body == first
                served_by.add(worker)
    assert served_by == set(server.worker_pids())
    assert mongo_db.computations.count_documents({}) == 1
