"""The last run of each ``single`` task in MongoDB: each due time claimed once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from pyramid.config import Configurator
from pyramid.registry import Registry

from aiotao.mongo.connection import get_connection
from aiotao.schedule.history import RunHistory, to_milliseconds


@asynccontextmanager
async def worker(mongo_uri: str) -> AsyncIterator[Registry]:
    """The registry of one worker process: a MongoDB client of its own."""
    config = Configurator(settings={'mongo.uri': mongo_uri})
    config.include('aiotao')
    config.include('aiotao.mongo')
    registry = config.make_wsgi_app().registry
    try:
        yield registry
    finally:
        await get_connection(registry).close()


async def test_a_task_never_run_is_last_due_at_its_first_start(mongo_uri: str) -> None:
    first_start = datetime(2025, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
    async with worker(mongo_uri) as registry:
        history = RunHistory(registry)
        assert await history.last_due('digest', first_start) == to_milliseconds(
            first_start
        )
        # a restart does not move it
        later = first_start + timedelta(hours=5)
        assert await history.last_due('digest', later) == to_milliseconds(first_start)


async def test_each_due_time_is_claimed_once_of_all_workers(mongo_uri: str) -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    due = start + timedelta(seconds=0.0333337)  # rounded as BSON stores it
    async with worker(mongo_uri) as one, worker(mongo_uri) as two:
        histories = [RunHistory(one), RunHistory(two)]
        await histories[0].last_due('digest', start)
        claims = await asyncio.gather(
            *(
                history.claim('digest', due, owner=f'worker {n % 2}')
                for n, history in enumerate(histories * 5)
            )
        )
        assert claims.count(True) == 1
        # the same due time, computed again: still taken; a later one is free
        assert await histories[1].claim('digest', due, 'worker 1') is False
        assert await histories[0].last_due('digest', start) == to_milliseconds(due)
        assert (
            await histories[1].claim('digest', due + timedelta(seconds=1), 'w') is True
        )
