"""``request.db``: one lazily made client per process and loop, closed at shutdown."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pymongo.errors import InvalidOperation
from pyramid.config import Configurator

from aiotao import lifecycle, make_async_app
from aiotao.mongo import get_client, get_database
from aiotao.mongo.connection import get_connection
from tests.conftest import send
from tests.harness.gunicorn import ServerFactory
from tests.mongo.conftest import serving
from tests.pkgs.mongoapp.served import serve

COUNTING = 'tests.pkgs.mongoapp.clients.CountingClient'


@pytest.mark.timeout(90)
async def test_200_concurrent_requests_on_a_worker_share_one_client(
    gunicorn: ServerFactory, tmp_path: Path, mongo_uri: str
) -> None:
    server = serve(
        gunicorn,
        tmp_path,
        **{
            'mongo.uri': mongo_uri,
            'mongo.client_class': COUNTING,
            'mongo.option.maxPoolSize': '10',
        },
    )
    connector = aiohttp.TCPConnector(limit=0)  # 200 connections at once
    async with aiohttp.ClientSession(connector=connector) as session:

        async def get(path: str) -> tuple[int, Any]:
            async with session.get(server.url(path)) as response:
                return response.status, await response.json()

        results = await asyncio.gather(
            *(get(f'/visit/user{i % 4}') for i in range(200))
        )
        assert {status for status, _ in results} == {200}
        # every request inserted, found, updated and aggregated its visit
        final = [(await get(f'/visit/user{i}'))[1] for i in range(4)]
        assert final == [
            {'user': f'user{i}', 'visits': 51, 'seen': 51} for i in range(4)
        ]
        _, stats = await get('/stats')
    assert stats['pid'] == server.worker_pids()[0]
    assert stats['clients'] == 1
    # the pool's connections were reused, never one per request
    assert 1 <= stats['connections_created'] <= 10
    assert 'aiotao.mongo: new CountingClient' in server.log()


async def test_the_client_is_made_on_first_use_and_closed_at_shutdown(
    mongo_uri: str,
) -> None:
    async with serving({'mongo.uri': mongo_uri}) as router:
        connection = get_connection(router.registry)
        client = get_client(router.registry)
        assert get_client(router.registry) is client
        assert (await send(router, '/visit/ann')).json['visits'] == 1
    with pytest.raises(InvalidOperation):
        await client.admin.command('ping')
    # a later use (the app is served again) makes a new one
    assert connection.client() is not client
    await connection.close()


async def test_each_event_loop_gets_its_own_client(mongo_uri: str) -> None:
    config = Configurator(settings={'mongo.uri': mongo_uri})
    config.include('aiotao')
    registry = make_async_app(config).registry
    here = get_client(registry)

    def in_another_loop() -> bool:
        async def use() -> bool:
            other = get_client(registry)
            await other.admin.command('ping')
            await get_connection(registry).close()
            return other is not here

        return asyncio.run(use())

    assert await asyncio.to_thread(in_another_loop)
    await get_connection(registry).close()


async def test_a_forked_process_makes_its_own_client(mongo_uri: str) -> None:
    async with serving({'mongo.uri': mongo_uri}) as router:
        parent_client = get_client(router.registry)
        await parent_client.admin.command('ping')
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child, as a gunicorn worker is
            os.close(read)
            outcome: dict[str, Any] = {}
            try:

                async def child() -> None:
                    client = get_client(router.registry)
                    outcome['new_client'] = client is not parent_client
                    database = get_database(router.registry)
                    await database.forked.insert_one({'pid': os.getpid()})
                    outcome['inserted'] = True
                    await get_connection(router.registry).close()

                asyncio.run(child())
            except BaseException as exc:  # reported to the parent
                outcome['error'] = repr(exc)
            os.write(write, json.dumps(outcome).encode())
            os._exit(0)
        os.close(write)
        _, status = await asyncio.to_thread(os.waitpid, pid, 0)
        with os.fdopen(read) as pipe:
            outcome = json.loads(pipe.read())
        assert status == 0
        assert outcome == {'new_client': True, 'inserted': True}
        db = get_client(router.registry).get_default_database()
        assert await db.forked.count_documents({'pid': pid}) == 1


async def test_request_mongo_client_runs_transactions(mongo_uri: str) -> None:
    async def transfer(request: Any) -> dict[str, int]:
        accounts = request.db.accounts
        async with request.mongo_client.start_session() as session:
            async with await session.start_transaction():
                await accounts.update_one(
                    {'_id': 'a'}, {'$inc': {'n': -5}}, session=session
                )
                await accounts.update_one(
                    {'_id': 'b'}, {'$inc': {'n': 5}}, session=session
                )
                if 'fail' in request.params:
                    raise ValueError('rolled back')
        return {d['_id']: d['n'] async for d in accounts.find()}

    config = Configurator(settings={'mongo.uri': mongo_uri})
    config.include('aiotao')
    config.add_route('transfer', '/transfer')
    config.add_view(transfer, route_name='transfer', renderer='json')
    router = make_async_app(config)
    await lifecycle.start(router.registry)
    try:
        await (
            get_client(router.registry)
            .get_default_database()
            .accounts.insert_many([{'_id': 'a', 'n': 10}, {'_id': 'b', 'n': 0}])
        )
        assert (await send(router, '/transfer')).json == {'a': 5, 'b': 5}
        with pytest.raises(ValueError, match='rolled back'):
            await send(router, '/transfer?fail=1')
        accounts = get_client(router.registry).get_default_database().accounts
        assert {d['_id']: d['n'] async for d in accounts.find()} == {'a': 5, 'b': 5}
    finally:
        await lifecycle.stop(router.registry)
