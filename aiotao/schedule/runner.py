"""Running scheduled tasks in a serving process.

:class:`Scheduler` starts one asyncio task per scheduled task when the
server announces :class:`~aiotao.lifecycle.ServerStarted` (in each worker,
after the fork, on the serving loop) and cancels them on
:class:`~aiotao.lifecycle.ServerStopping` (a run in progress is cancelled).

In each process (no ``single``):

* an interval task runs every ``interval`` seconds, the first time one
  interval after the start; nothing is kept across restarts (the work is
  the process's own);
* a cron task runs at each due time of its schedule.

In one worker of all (``single``), where the task's lease is held
(:mod:`~aiotao.schedule.lease`), keeping to the schedule across restarts
and workers (:mod:`~aiotao.schedule.history`): a due time that passed while
no worker ran the task (a restart, a deploy) is caught up at once, once;
each due time runs at most once of all workers; and the lease is held for
the whole run: a holder that can no longer renew it (the database out of
reach) cancels its run before the lease expires and another worker could
start one.

Runs never overlap: when one outlasts the period, the due times it missed
are skipped, not queued.  An exception is logged with its traceback and the
next run happens on schedule.

The function gets a :class:`TaskRun`; during the run the registry is the
current one, so ``get_current_registry()`` and ``@cache`` work::

    async def cleanup(run):
        db = get_database(run.registry)
        await db.sessions.delete_many({'expires': {'$lt': datetime.now(UTC)}})
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import math
from dataclasses import dataclass

from pymongo.errors import PyMongoError
from pyramid.registry import Registry
from pyramid.threadlocal import manager

from aiotao.interfaces import IScheduler as IScheduler
from aiotao.lifecycle import ServerStarted, ServerStopping
from aiotao.schedule.history import RunHistory
from aiotao.schedule.lease import DEFAULT_DURATION, Lease
from aiotao.schedule.schedules import Interval
from aiotao.schedule.settings import ScheduledTask

log = logging.getLogger('aiotao.schedule')

#: The longest single sleep towards a due time: the wall clock is read again
#: after it, so a clock set forward or a suspended machine is noticed.
_LONGEST_SLEEP = 60.0


@dataclass(frozen=True)
class TaskRun:
    """What a scheduled function is called with."""

    name: str
    registry: Registry
    #: 1 for this process's first run of the task, then 2, 3...
    number: int
    #: The time this run was due (UTC); ``None`` for a per-process interval
    #: task, which keeps time by the loop's clock, not the wall clock.
    due: datetime.datetime | None = None


class Scheduler:
    """The scheduled tasks of one application, in this process."""

    def __init__(
        self, tasks: list[ScheduledTask], lease_duration: float = DEFAULT_DURATION
    ) -> None:
        self.tasks = tasks
        #: Seconds a ``single`` task's lease lasts unless renewed: how long a
        #: dead holder keeps its tasks from running elsewhere.
        self.lease_duration = lease_duration
        self._running: list[asyncio.Task[None]] = []
        self._leases: list[Lease] = []

    async def start(self, registry: Registry) -> None:
        if self._running:
            return  # started already
        loop = asyncio.get_running_loop()
        history = RunHistory(registry)
        for task in self.tasks:
            if task.single:
                lease = Lease(registry, f'schedule:{task.name}', self.lease_duration)
                self._leases.append(lease)
                self._running.append(
                    loop.create_task(_keep(lease), name=f'lease {task.name}')
                )
                running = _in_one_worker(task, registry, lease, history)
            elif isinstance(task.schedule, Interval):
                running = _every(task, task.schedule, registry)
            else:
                running = _on_the_clock(task, registry)
            self._running.append(
                loop.create_task(running, name=f'schedule {task.name}')
            )
            log.info(
                'aiotao.schedule: %s runs %s%s',
                task.name,
                task.schedule,
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


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


async def _sleep_until(moment: datetime.datetime) -> None:
    """Sleep until the wall clock reads ``moment``."""
    while (left := (moment - _now()).total_seconds()) > 0:
        await asyncio.sleep(min(left, _LONGEST_SLEEP))


async def _every(task: ScheduledTask, interval: Interval, registry: Registry) -> None:
    loop = asyncio.get_running_loop()
    # This task has a context of its own: what it pushes stays here.
    manager.push({'registry': registry, 'request': None})
    period = interval.seconds
    due = loop.time() + period
    number = 0
    while True:
        await asyncio.sleep(max(0.0, due - loop.time()))
        number += 1
        await _run_once(task, TaskRun(task.name, registry, number))
        now = loop.time()
        due += period
        if due <= now:  # the run overran: skip the ticks it missed
            due += (math.floor((now - due) / period) + 1) * period


async def _on_the_clock(task: ScheduledTask, registry: Registry) -> None:
    manager.push({'registry': registry, 'request': None})
    due = task.schedule.next_after(_now())
    number = 0
    while True:
        await _sleep_until(due)
        number += 1
        await _run_once(task, TaskRun(task.name, registry, number, due))
        # from now if the run overran: the due times it missed are skipped
        due = task.schedule.next_after(max(due, _now()))


async def _in_one_worker(
    task: ScheduledTask, registry: Registry, lease: Lease, history: RunHistory
) -> None:
    manager.push({'registry': registry, 'request': None})
    number = 0
    unreachable = False
    while True:
        await lease.wait_held()
        try:
            now = _now()
            last = await history.last_due(task.name, now)
            due = task.schedule.last_due(last, now)
            if due is None:
                # nothing owed: sleep until the next due time, then ask again
                # (the lease may have moved, another worker may have run it)
                unreachable = False
                await _sleep_until(task.schedule.next_after(last))
                continue
            claimed = await history.claim(task.name, due, lease.owner)
        except PyMongoError as exc:
            if not unreachable:
                log.warning(
                    'aiotao.schedule: cannot read the last run of %s: %s',
                    task.name,
                    exc,
                )
            unreachable = True
            await asyncio.sleep(lease.duration / 3)
            continue
        unreachable = False
        if not claimed:
            continue  # another worker ran it
        number += 1
        outcome = await _run_holding(
            task, TaskRun(task.name, registry, number, due), lease
        )
        try:
            await history.finish(task.name, due, lease.owner, outcome)
        except PyMongoError as exc:
            log.warning(
                'aiotao.schedule: cannot record the run of %s: %s', task.name, exc
            )


async def _run_holding(task: ScheduledTask, run: TaskRun, lease: Lease) -> str:
    """Run while the lease is ours; cancel the run if it can no longer be."""
    job = asyncio.ensure_future(_run_once(task, run))
    try:
        while not job.done():
            await asyncio.wait({job}, timeout=lease.seconds_left)
            if not job.done() and not lease.held:
                log.warning(
                    'aiotao.schedule: lost the lease of %s during its run (the '
                    'database out of reach?): run cancelled, so that no other '
                    'worker runs it at the same time',
                    task.name,
                )
                job.cancel()
                await asyncio.wait({job})
                return 'cancelled'
        return job.result()
    finally:
        if not job.done():  # we are being stopped: the run is, too
            job.cancel()
            await asyncio.wait({job})


async def _run_once(task: ScheduledTask, run: TaskRun) -> str:
    try:
        await task.function(run)
    except Exception:
        log.exception(
            'aiotao.schedule: task %s (%s) failed; next run %s',
            task.name,
            task.setting,
            _next_run(task),
        )
        return 'failed'
    return 'ok'


def _next_run(task: ScheduledTask) -> str:
    schedule = task.schedule
    if isinstance(schedule, Interval):
        return f'in {schedule.seconds:g}s'
    return f'{schedule}'


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
