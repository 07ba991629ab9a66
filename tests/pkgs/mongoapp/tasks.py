"""Scheduled tasks of the test application (``aiotao.schedule.*`` settings)."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from pyramid.threadlocal import get_current_registry

from aiotao.mongo import get_database
from aiotao.schedule import TaskRun

#: (task name, run number, registry id, monotonic time) of each run here
runs: list[tuple[str, int, int, float]] = []


def _note(run: TaskRun) -> None:
    runs.append((run.name, run.number, id(run.registry), time.monotonic()))


async def record(run: TaskRun) -> None:
    assert get_current_registry() is run.registry
    _note(run)


async def fail_every_other(run: TaskRun) -> None:
    _note(run)
    if run.number % 2:
        raise RuntimeError(f'run {run.number} failed')


async def slow(run: TaskRun) -> None:
    _note(run)
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        runs.append(('cancelled', run.number, id(run.registry), time.monotonic()))
        raise


async def record_in_db(run: TaskRun) -> None:
    """Counts runs in the database: across worker processes."""
    document: dict[str, Any] = {
        'task': run.name,
        'number': run.number,
        'pid': os.getpid(),
        'registry': id(run.registry),
    }
    await get_database(run.registry).runs.insert_one(document)


async def flaky_in_db(run: TaskRun) -> None:
    """Counts runs in the database and fails every other one."""
    await record_in_db(run)
    if run.number % 2:
        raise RuntimeError(f'run {run.number} failed')


def not_async(run: TaskRun) -> None: ...


#: (task name, due time) of each run of record_due here
dues: list[tuple[str, Any]] = []


async def record_due(run: TaskRun) -> None:
    _note(run)
    dues.append((run.name, run.due))


async def takes_a_while(run: TaskRun) -> None:
    """A run of 1.5 s: longer than the short leases of the tests."""
    _note(run)
    await asyncio.sleep(1.5)
    runs.append(('done', run.number, id(run.registry), time.monotonic()))
