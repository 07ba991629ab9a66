"""Scheduled tasks run on schedule, survive exceptions and stop with the server."""

from __future__ import annotations

import asyncio
import logging
import math
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from pyramid.config import Configurator
from pyramid.registry import Registry

from aiotao import lifecycle
from aiotao.schedule import ScheduledTask, Scheduler, read_schedule
from aiotao.schedule.runner import IScheduler
from aiotao.testing.mongodb_server import MongoDBServer
from tests.harness.gunicorn import ServerFactory
from tests.pkgs.mongoapp import tasks
from tests.pkgs.mongoapp.served import serve

TASKS = 'tests.pkgs.mongoapp.tasks'


@asynccontextmanager
async def started(settings: dict[str, Any]) -> AsyncIterator[Registry]:
    config = Configurator(settings=settings)
    config.include('aiotao')
    config.include('aiotao.schedule')
    registry = config.make_wsgi_app().registry
    await lifecycle.start(registry)
    try:
        yield registry
    finally:
        await lifecycle.stop(registry)


@pytest.fixture(autouse=True)
def forget_runs() -> None:
    tasks.runs.clear()


def runs_of(name: str) -> list[tuple[str, int, int, float]]:
    return [run for run in tasks.runs if run[0] == name]


async def until_runs(name: str, count: int, within: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while len(runs_of(name)) < count:
        assert asyncio.get_running_loop().time() < deadline, tasks.runs
        await asyncio.sleep(0.01)


async def test_a_task_runs_every_interval(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger='aiotao.schedule')
    async with started({'aiotao.schedule.tick': f'0.2 {TASKS}:record'}) as registry:
        start = time.monotonic()
        await until_runs('tick', 5)
    runs = runs_of('tick')
    assert [number for _, number, _, _ in runs] == [1, 2, 3, 4, 5]
    assert {registry_id for _, _, registry_id, _ in runs} == {id(registry)}
    times = [at for _, _, _, at in runs]
    assert times[0] - start >= 0.19  # one period after the start, never before
    # fixed rate: the fifth run is due five periods after the start (no drift)
    assert times[4] - start == pytest.approx(1.0, abs=0.1)
    assert 'aiotao.schedule: tick runs every 0.2s' in caplog.text


async def test_an_exception_is_logged_and_the_next_run_happens(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with started({'aiotao.schedule.flaky': f'0.1 {TASKS}:fail_every_other'}):
        await until_runs('flaky', 4)
    assert [number for _, number, _, _ in runs_of('flaky')] == [1, 2, 3, 4]
    failures = [r for r in caplog.records if 'task flaky' in r.getMessage()]
    assert len(failures) == 2
    assert failures[0].getMessage() == (
        'aiotao.schedule: task flaky (aiotao.schedule.flaky) failed; next run in 0.1s'
    )
    assert failures[0].exc_info is not None
    assert str(failures[0].exc_info[1]) == 'run 1 failed'


async def test_stopping_cancels_the_run_in_progress_and_no_more_run() -> None:
    async with started({'aiotao.schedule.slow': f'0.05 {TASKS}:slow'}):
        await until_runs('slow', 1)
        assert [name for name, *_ in tasks.runs] == ['slow']
    assert [name for name, *_ in tasks.runs] == ['slow', 'cancelled']
    await asyncio.sleep(0.2)
    assert [name for name, *_ in tasks.runs] == ['slow', 'cancelled']


async def test_a_run_that_overruns_skips_the_missed_ticks() -> None:
    async with started({'aiotao.schedule.slow': f'0.05 {TASKS}:slow'}):
        await until_runs('slow', 1)
        await asyncio.sleep(0.3)  # six periods
    # one run, in progress all along: ticks are not queued behind it
    assert [name for name, *_ in tasks.runs] == ['slow', 'cancelled']


async def test_nothing_runs_before_the_server_starts() -> None:
    config = Configurator(settings={'aiotao.schedule.tick': f'0.05 {TASKS}:record'})
    config.include('aiotao.schedule')
    config.make_wsgi_app()
    await asyncio.sleep(0.15)
    assert tasks.runs == []


@pytest.mark.timeout(60)
def test_under_gunicorn_a_task_runs_survives_exceptions_and_stops_on_sigterm(
    gunicorn: ServerFactory, tmp_path: Path, mongo_uri: str, mongo_db: Any
) -> None:
    server = serve(
        gunicorn,
        tmp_path,
        **{
            'mongo.uri': mongo_uri,
            'test.includes': 'aiotao.schedule',
            'aiotao.schedule.flaky': f'0.2 {TASKS}:flaky_in_db',
        },
    )
    [worker] = server.worker_pids()
    server.wait_for_log(
        r'task flaky \(aiotao.schedule.flaky\) failed; next run in 0.2s'
    )
    deadline = time.monotonic() + 10
    while mongo_db.runs.count_documents({}) < 6:
        assert time.monotonic() < deadline, list(mongo_db.runs.find())
        time.sleep(0.1)
    assert server.stop(signal.SIGTERM) == 0
    runs = list(mongo_db.runs.find({}, {'_id': 0}).sort('number'))
    # every run happened, the failed ones (1, 3, 5...) included, in the worker
    assert [run['number'] for run in runs] == list(range(1, len(runs) + 1))
    assert {run['pid'] for run in runs} == {worker}
    assert 'RuntimeError: run 1 failed' in server.log()
    time.sleep(0.6)  # three periods: nothing runs any more
    assert mongo_db.runs.count_documents({}) == len(runs)


# -- one worker of all: the schedule kept across restarts ---------------------


@dataclass(frozen=True)
class WallClockGrid:
    """Due on the wall clock every ``seconds`` (cron's rule, at test speed)."""

    seconds: float

    def next_after(self, moment: datetime) -> datetime:
        period = timedelta(seconds=self.seconds)
        return EPOCH + (math.floor((moment - EPOCH) / period) + 1) * period

    def last_due(self, since: datetime, now: datetime) -> datetime | None:
        period = timedelta(seconds=self.seconds)
        due = EPOCH + math.floor((now - EPOCH) / period) * period
        return due if due > since else None


EPOCH = datetime(2025, 1, 1, tzinfo=UTC)


@asynccontextmanager
async def scheduled(
    settings: dict[str, Any],
    tasks_: list[ScheduledTask] | None = None,
    lease_duration: float = 15.0,
) -> AsyncIterator[Registry]:
    """The app started, with these tasks (default: the settings') and lease."""
    config = Configurator(settings=settings)
    config.include('aiotao')
    config.include('aiotao.mongo')
    config.include('aiotao.schedule')
    registry = config.make_wsgi_app().registry
    chosen = read_schedule(settings) if tasks_ is None else tasks_
    registry.registerUtility(Scheduler(chosen, lease_duration), IScheduler)
    await lifecycle.start(registry)
    try:
        yield registry
    finally:
        await lifecycle.stop(registry)


@pytest.fixture(autouse=True)
def forget_dues() -> None:
    tasks.dues.clear()


async def test_a_restart_catches_up_the_due_time_it_missed_once(
    mongo_uri: str, mongo_db: Any
) -> None:
    settings = {
        'mongo.uri': mongo_uri,
        'aiotao.schedule.digest': f'1.5 {TASKS}:record_due single',
    }
    first_start = datetime.now(UTC)
    async with scheduled(settings):  # the first deploy: due 1.5 s from now
        await asyncio.sleep(0.3)
    assert runs_of('digest') == []
    await asyncio.sleep(1.5)  # due while no worker runs (a deploy)
    async with scheduled(settings), scheduled(settings):  # two workers come back
        restarted = time.monotonic()
        await until_runs('digest', 1, within=1.0)  # at once, not 1.5 s later
        await asyncio.sleep(0.5)
        # once, by one of the two workers; the next is on the same grid
        assert len(runs_of('digest')) == 1
        await until_runs('digest', 2, within=2.0)
    first, _ = runs_of('digest')
    assert first[3] - restarted < 0.5
    [(_, caught_up), (_, next_due)] = tasks.dues
    # the due time the first deploy set (a loaded machine may take a moment
    # to start it), not one counted from the restart (some 3.3 s later)
    assert caught_up - first_start == pytest.approx(
        timedelta(seconds=1.5), abs=timedelta(seconds=0.25)
    )
    assert next_due - caught_up == timedelta(seconds=1.5)
    record = mongo_db.aiotao_schedule.find_one({'_id': 'digest'})
    assert record['last_due'].replace(tzinfo=UTC) == next_due
    assert record['outcome'] == 'ok' and record['finished'] >= record['started']


async def test_a_cron_like_schedule_runs_on_the_wall_clock(mongo_uri: str) -> None:
    grid = WallClockGrid(0.2)
    chosen = [
        ScheduledTask('clock', grid, tasks.record_due),
        ScheduledTask('clock_single', grid, tasks.record_due, single=True),
    ]
    async with scheduled({'mongo.uri': mongo_uri}, chosen):
        await until_runs('clock', 3)
        await until_runs('clock_single', 3)
    for name in ('clock', 'clock_single'):
        due_times = [due for task, due in tasks.dues if task == name]
        assert all(
            (due - EPOCH) % timedelta(seconds=0.2) == timedelta(0) for due in due_times
        )
        assert all(
            later - earlier == timedelta(seconds=0.2)
            for earlier, later in pairwise(due_times)
        )


@pytest.mark.timeout(30)
async def test_a_run_is_cancelled_when_its_lease_can_no_longer_be_held(
    private_mongodb: MongoDBServer, caplog: pytest.LogCaptureFixture
) -> None:
    settings = {
        'mongo.uri': private_mongodb.uri_for('shop'),
        'mongo.option.serverSelectionTimeoutMS': '300',
        'aiotao.schedule.slow': f'0.2 {TASKS}:slow single',
    }
    async with scheduled(settings, lease_duration=2.0):
        await until_runs('slow', 1)
        private_mongodb.stop()  # no more renewals: the lease runs out in 2 s
        stopped = time.monotonic()
        await until_runs('cancelled', 1, within=5.0)
        cancelled_after = runs_of('cancelled')[0][3] - stopped
        # before the lease expires in the database, where another worker
        # would then take it and start a run
        assert cancelled_after < 2.0
        assert 'lost the lease of slow during its run' in caplog.text
        # PyMongo 4.20 leaks a socket if its client is closed while a server
        # check is connecting: let the check that the failures asked for end.
        await asyncio.sleep(0.6)


async def test_a_run_longer_than_the_lease_keeps_it_while_it_can_renew(
    mongo_uri: str,
) -> None:
    settings = {
        'mongo.uri': mongo_uri,
        'aiotao.schedule.long': f'0.1 {TASKS}:takes_a_while single',
    }
    async with scheduled(settings, lease_duration=0.6):
        await until_runs('done', 1, within=5.0)
    assert [name for name, *_ in tasks.runs][:2] == ['long', 'done']
    assert runs_of('cancelled') == []
