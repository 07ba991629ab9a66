"""The MongoDB lease that makes a ``single`` task run in one worker of all."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from pyramid.config import Configurator
from pyramid.registry import Registry

from aiotao import lifecycle
from aiotao.mongo import get_database
from aiotao.mongo.connection import get_connection
from aiotao.schedule.lease import Lease
from aiotao.testing.mongodb_server import MongoDBServer
from tests.harness.gunicorn import ServerFactory
from tests.pkgs.mongoapp.clients import CountingClient
from tests.pkgs.mongoapp.served import serve


@asynccontextmanager
async def app_registry(mongo_uri: str, **settings: str) -> AsyncIterator[Registry]:
    config = Configurator(settings={'mongo.uri': mongo_uri, **settings})
    config.include('aiotao')
    config.include('aiotao.schedule')
    registry = config.make_wsgi_app().registry
    try:
        yield registry
    finally:
        await get_connection(registry).close()


async def test_one_holder_at_a_time_and_release_hands_it_over(mongo_uri: str) -> None:
    async with app_registry(mongo_uri) as one, app_registry(mongo_uri) as two:
        first, second = Lease(one, 'schedule:x'), Lease(two, 'schedule:x')
        assert await first.try_acquire() is True
        assert await second.try_acquire() is False
        assert await first.try_acquire() is True  # renewal
        assert (first.held, second.held) == (True, False)
        await first.release()
        assert first.held is False
        assert await second.try_acquire() is True
        assert await first.try_acquire() is False


async def test_an_abandoned_lease_is_taken_over_when_it_expires(mongo_uri: str) -> None:
    async with app_registry(mongo_uri) as one, app_registry(mongo_uri) as two:
        dead = Lease(one, 'schedule:y', duration=0.5)
        alive = Lease(two, 'schedule:y', duration=0.5)
        assert await dead.try_acquire() is True
        assert await alive.try_acquire() is False
        await asyncio.sleep(0.6)  # the holder died: no renewal
        assert dead.held is False
        assert await alive.try_acquire() is True
        [document] = await get_database(two).aiotao_leases.find().to_list(None)
        assert document['_id'] == 'schedule:y'
        assert document['owner'] == alive.owner


async def test_the_holder_stops_holding_when_the_database_is_gone(
    private_mongodb: MongoDBServer, caplog: pytest.LogCaptureFixture
) -> None:
    uri = private_mongodb.uri_for('shop')
    quick = {'mongo.option.serverSelectionTimeoutMS': '300'}
    async with app_registry(uri, **quick) as registry:
        lease = Lease(registry, 'schedule:z', duration=4)
        assert await lease.try_acquire() is True
        acquired = time.monotonic()
        private_mongodb.stop()
        # renewal fails, but the lease is ours until our copy of its deadline
        assert await lease.try_acquire() is True
        await asyncio.sleep(acquired + 4.05 - time.monotonic())
        assert lease.held is False
        assert await lease.try_acquire() is False
        warnings = [r.getMessage() for r in caplog.records if 'lease' in r.getMessage()]
        assert len(warnings) == 1  # logged once, not at every attempt
        assert warnings[0].startswith('aiotao.schedule: cannot renew lease schedule:z')
        # PyMongo 4.20 leaks a socket if its client is closed while a server
        # check is connecting: let the check that the failures asked for end.
        await asyncio.sleep(0.6)


@pytest.mark.timeout(60)
def test_single_runs_in_exactly_one_of_two_workers(
    gunicorn: ServerFactory, tmp_path: Path, mongo_uri: str, mongo_db: Any
) -> None:
    server = serve(
        gunicorn,
        tmp_path,
        workers=2,
        **{
            'mongo.uri': mongo_uri,
            'test.includes': 'aiotao.schedule',
            'aiotao.schedule.digest': '0.1 tests.pkgs.mongoapp.tasks:record_in_db single',
        },
    )
    deadline = time.monotonic() + 10
    while len(server.worker_pids()) < 2 or mongo_db.runs.count_documents({}) < 10:
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.1)
    time.sleep(1)
    assert server.stop() == 0
    runs = list(mongo_db.runs.find())
    assert len(runs) >= 15
    [runner] = {run['pid'] for run in runs}
    assert runner in server.worker_pids()
    assert len(set(server.worker_pids())) == 2
    # both workers scheduled the task; only the lease holder ran it
    assert (
        server.log().count('aiotao.schedule: digest runs every 0.1s in one worker') == 2
    )
    assert list(mongo_db.aiotao_leases.find()) == []  # released at shutdown


async def test_the_lease_is_released_before_the_client_closes(mongo_uri: str) -> None:
    async with app_registry(
        mongo_uri,
        **{
            'mongo.client_class': 'tests.pkgs.mongoapp.clients.CountingClient',
            'aiotao.schedule.digest': '0.05 tests.pkgs.mongoapp.tasks:record_in_db single',
        },
    ) as registry:
        clients_before = len(CountingClient.instances)
        await lifecycle.start(registry)
        database = get_database(registry)
        while await database.runs.count_documents({}) < 2:
            await asyncio.sleep(0.05)
        assert await database.aiotao_leases.count_documents({}) == 1
        await lifecycle.stop(registry)
        # released with the worker's client, which was closed after that
        assert len(CountingClient.instances) - clients_before == 1
        assert await get_database(registry).aiotao_leases.count_documents({}) == 0
