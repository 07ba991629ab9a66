"""Running scheduled tasks in a serving process.

:class:`Scheduler` starts one asyncio task per scheduled task when the
server announces :class:`~aiotao.lifecycle.ServerStarted` (in each worker,
after the fork, on the serving loop) and cancels them on
:class:`~aiotao.lifecycle.ServerStopping` (a run in progress is cancelled).

A task runs every ``interval`` seconds, the first time one interval after
the start.  Runs never overlap: when one outlasts the interval, the ticks it
missed are skipped, not caught up.  An exception is logged with its
traceback and the next run happens on schedule.

The function gets a :class:`TaskRun`; during the run the registry is the
current one, so ``get_current_registry()`` and ``@cache`` work::

    async def cleanup(run):
        db = get_database(run.registry)
        await db.sessions.delete_many({'expires': {'$lt': datetime.now(UTC)}})
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from dataclasses import dataclass

from pyramid.registry import Registry
from pyramid.threadlocal import manager
from zope.interface import Interface

from aiotao.lifecycle import ServerStarted, ServerStopping
from aiotao.schedule.lease import Lease
from aiotao.schedule.settings import ScheduledTask

log = logging.getLogger('aiotao.schedule')


class IScheduler(Interface):  # type: ignore[misc]
    """The application's :class:`Scheduler` (registered by ``aiotao.schedule``)."""


@dataclass(frozen=True)
class TaskRun:
    """What a scheduled function is called with."""

    name: str
    registry: Registry
    #: 1 for this process's first run of the task, then 2, 3...
    number: int


class Scheduler:
    """The scheduled tasks of one application, in this process."""

    def __init__(self, tasks: list[ScheduledTask]) -> None:
        self.tasks = tasks
        self._running: list[asyncio.Task[None]] = []
        self._leases: list[Lease] = []

    async def start(self, registry: Registry) -> None:
        if self._running:
            return  # started already
        loop = asyncio.get_running_loop()
        for task in self.tasks:
            lease = None
            if task.single:
                lease = Lease(registry, f'schedule:{task.name}')
                self._leases.append(lease)
                self._running.append(
                    loop.create_task(_keep(lease), name=f'lease {task.name}')
                )
            self._running.append(
                loop.create_task(
                    _every(task, registry, lease), name=f'schedule {task.name}'
                )
            )
            log.info(
                'aiotao.schedule: %s runs every %gs%s',
                task.name,
                task.interval,
                ' in one worker' if task.single else '',
            )

    async def stop(self) -> None:
        running, self._running = self._running, []
        for task in running:
            task.cancel()
        for task in running:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        leases, self._leases = self._leases, []
        for lease in leases:
            await lease.release()


async def _every(task: ScheduledTask, registry: Registry, lease: Lease | None) -> None:
    loop = asyncio.get_running_loop()
    # This task has a context of its own: what it pushes stays here.
    manager.push({'registry': registry, 'request': None})
    due = loop.time() + task.interval
    number = 0
    while True:
        await asyncio.sleep(max(0.0, due - loop.time()))
        if lease is None or lease.held:
            number += 1
            await _run_once(task, TaskRun(task.name, registry, number))
        now = loop.time()
        due += task.interval
        if due <= now:  # the run overran: skip the ticks it missed
            due += (math.floor((now - due) / task.interval) + 1) * task.interval


async def _run_once(task: ScheduledTask, run: TaskRun) -> None:
    try:
        await task.function(run)
    except Exception:
        log.exception(
            'aiotao.schedule: task %s (%s) failed; next run in %gs',
            task.name,
            task.setting,
            task.interval,
        )


async def _keep(lease: Lease) -> None:
    while True:
        await lease.try_acquire()
        await asyncio.sleep(lease.duration / 3)


async def on_server_started(event: ServerStarted) -> None:
    scheduler: Scheduler | None = event.registry.queryUtility(IScheduler)
    if scheduler is not None:
        await scheduler.start(event.registry)


async def on_server_stopping(event: ServerStopping) -> None:
    scheduler: Scheduler | None = event.registry.queryUtility(IScheduler)
    if scheduler is not None:
        await scheduler.stop()
