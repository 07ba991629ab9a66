"""An unreachable MongoDB: 503 for views that use it, the rest keep answering."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest

from aiotao.testing.mongodb_server import MongoDBServer
from tests.harness.gunicorn import ServerFactory, ServerProcess
from tests.pkgs.mongoapp.served import serve

QUICK = {
    # fail fast, so that the test does not wait PyMongo's default 30 s
    'mongo.option.serverSelectionTimeoutMS': '1000',
    'mongo.option.connectTimeoutMS': '1000',
}


async def status_of(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with session.get(url) as response:
        return response.status, await response.text()


async def eventually_ok(server: ServerProcess, path: str, within: float) -> int:
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as session:
        while True:
            status, _ = await status_of(session, server.url(path))
            if status == 200 or time.monotonic() > deadline:
                return status
            await asyncio.sleep(0.2)


@pytest.mark.timeout(90)
async def test_server_stopped_mid_run_gives_503_then_recovers(
    gunicorn: ServerFactory, tmp_path: Path, private_mongodb: MongoDBServer
) -> None:
    server = serve(
        gunicorn, tmp_path, **{'mongo.uri': private_mongodb.uri_for('shop')}, **QUICK
    )
    worker = server.worker_pids()
    async with aiohttp.ClientSession() as session:
        assert (await status_of(session, server.url('/visit/ann')))[0] == 200

        private_mongodb.stop()
        started = time.monotonic()
        (db_status, db_body), (other_status, other_body) = await asyncio.gather(
            status_of(session, server.url('/visit/ann')),
            status_of(session, server.url('/hello')),
        )
        assert (db_status, other_status, other_body) == (503, 200, 'hello')
        assert 'The database is unreachable; try again shortly.' in db_body
        assert time.monotonic() - started < 10
        async with session.get(server.url('/visit/ann')) as response:
            assert response.status == 503
            assert response.headers['Retry-After'] == '5'
        server.wait_for_log(
            r'ERROR \[aiotao.mongo\] \[\d+\] aiotao.mongo: MongoDB unreachable, '
            r'GET /visit/ann answered 503: (ServerSelectionTimeoutError|AutoReconnect)'
        )

        private_mongodb.start()  # same port, same data
        assert await eventually_ok(server, '/visit/ann', within=20) == 200
        status, body = await status_of(session, server.url('/visit/ann'))
        assert (status, body) == (200, '{"user": "ann", "visits": 3, "seen": 3}')
    assert server.worker_pids() == worker  # the same worker served throughout


@pytest.mark.timeout(90)
async def test_an_unreachable_server_at_start_is_logged_and_the_app_serves(
    gunicorn: ServerFactory, tmp_path: Path, private_mongodb: MongoDBServer
) -> None:
    uri = private_mongodb.uri_for('shop')
    private_mongodb.stop()
    server = serve(gunicorn, tmp_path, **{'mongo.uri': uri}, **QUICK)
    server.wait_for_log(
        rf'aiotao.mongo: cannot reach MongoDB at {uri} \(mongo.uri\): .*; views '
        r'using request.db answer 503 until it is reachable'
    )
    async with aiohttp.ClientSession() as session:
        assert (await status_of(session, server.url('/hello'))) == (200, 'hello')
        assert (await status_of(session, server.url('/visit/bob')))[0] == 503
    private_mongodb.start()
    assert await eventually_ok(server, '/visit/bob', within=20) == 200


@pytest.mark.timeout(60)
def test_a_malformed_uri_stops_gunicorn_naming_the_setting(
    gunicorn: ServerFactory, tmp_path: Path
) -> None:
    server = serve(
        gunicorn,
        tmp_path,
        ready_path=None,
        **{'mongo.uri': 'mongodb://app:s3cret@127.0.0.1:notaport/shop'},
    )
    assert server.wait(timeout=30) != 0
    log = server.log()
    assert 'ConfigurationError' in log
    assert 'mongo.uri = mongodb://app:***@127.0.0.1:notaport/shop is not valid' in log
    assert 's3cret' not in log


async def test_a_reachable_server_at_start_is_logged(
    gunicorn: ServerFactory, tmp_path: Path, mongo_uri: str
) -> None:
    server = serve(gunicorn, tmp_path, **{'mongo.uri': mongo_uri})
    server.wait_for_log(
        rf"aiotao.mongo: connected to {mongo_uri.rsplit('/', 1)[0]}/\w+, database '\w+'"
    )
