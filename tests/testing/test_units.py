"""Unit tests of coroutine views: run(), DummyRequest with request.db, aiotao_loop."""

from __future__ import annotations

import asyncio
import unittest
from typing import Any

import pymongo
import pytest
from pyramid import testing

from aiotao import lifecycle
from aiotao.testing import DummyRequest, run
from aiotao.testing.mongodb import TestDatabase


async def home(request: Any) -> dict[str, Any]:
    await asyncio.sleep(float(request.params.get('sleep', 0)))
    return {'title': 'home', 'user': await request.authenticated_userid_async()}


async def save_visit(request: Any) -> dict[str, Any]:
    await request.db.visits.insert_one({'path': request.path})
    return {'visits': await request.db.visits.count_documents({})}


def test_run_gives_the_result_and_reuses_its_loop() -> None:
    async def current_loop() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    assert run(home(DummyRequest(params={'sleep': '0'})))['title'] == 'home'
    assert run(current_loop()) is run(current_loop())


async def test_run_in_a_coroutine_says_to_await() -> None:
    coroutine = home(DummyRequest())
    with pytest.raises(RuntimeError, match='await the coroutine instead'):
        run(coroutine)
    await coroutine


def test_the_seed_style_with_aiotao_loop(
    aiotao_loop: asyncio.AbstractEventLoop,
) -> None:
    info = aiotao_loop.run_until_complete(home(DummyRequest()))
    assert info == {'title': 'home', 'user': None}
    assert not aiotao_loop.is_running()


def test_dummy_request_has_the_async_request_api() -> None:
    class Policy:
        def authenticated_userid(self, request: Any) -> str:
            return 'alice'

        def identity(self, request: Any) -> dict[str, str]:
            return {'name': 'alice'}

        def permits(self, request: Any, context: Any, permission: str) -> bool:
            return True

    config = testing.setUp()
    try:
        config.include('aiotao')
        config.set_security_policy(Policy())
        config.commit()
        assert run(home(DummyRequest()))['user'] == 'alice'
    finally:
        testing.tearDown()


def test_dummy_request_takes_a_database() -> None:
    request = DummyRequest(db='the database')
    assert request.db == 'the database'


def test_request_db_is_the_applications_database(aiotao_mongodb: TestDatabase) -> None:
    config = testing.setUp(settings=aiotao_mongodb.settings)
    try:
        config.include('aiotao')
        config.commit()
        assert run(save_visit(DummyRequest(path='/a'))) == {'visits': 1}
        # the same loop, so the same client, serves the next call
        assert run(save_visit(DummyRequest(path='/b'))) == {'visits': 2}
    finally:
        run(lifecycle.stop(config.registry))  # closes request.db's client
        testing.tearDown()
    client: pymongo.MongoClient[dict[str, Any]]
    with pymongo.MongoClient(aiotao_mongodb.uri) as client:
        visits: Any = client[aiotao_mongodb.name].visits
        paths = [visit['path'] for visit in visits.find()]
    assert sorted(paths) == ['/a', '/b']


class SeedStyleTests(unittest.TestCase):
    """The unittest shape of the seed's view tests, with aiotao.testing."""

    def setUp(self) -> None:
        self.config = testing.setUp()
        self.config.include('aiotao')

    def tearDown(self) -> None:
        testing.tearDown()

    def test_home(self) -> None:
        info = run(home(DummyRequest(params={'sleep': '0.01'})))
        self.assertEqual(info['title'], 'home')
