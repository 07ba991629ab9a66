"""Scheduled tasks run on schedule, survive exceptions and stop with the server."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from pyramid.config import Configurator
from pyramid.registry import Registry

from aiotao import lifecycle
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
