"""Scheduled tasks from the ini: coroutines run every N seconds or by cron.

::

    [app:main]
    pyramid.includes = aiotao aiotao.schedule
    aiotao.schedule.cleanup = 30 myapp.tasks:cleanup
    aiotao.schedule.digest = 0 3 * * * myapp.tasks:send_digest single
    aiotao.schedule.timezone = Europe/Paris

    # myapp/tasks.py
    async def cleanup(run):                 # run: aiotao.schedule.TaskRun
        await get_database(run.registry).carts.delete_many({'abandoned': True})

Tasks start when a worker starts serving and stop when it shuts down (see
:mod:`aiotao.schedule.runner`).  ``single`` runs a task in one worker of all
(a MongoDB lease, :mod:`aiotao.schedule.lease`; it needs ``mongo.uri``) and
keeps its last run in MongoDB (:mod:`aiotao.schedule.history`), so that
restarts neither lose nor repeat runs.  The settings are checked at startup
(:mod:`aiotao.schedule.settings`); schedules are
:mod:`aiotao.schedule.schedules` (intervals) and :mod:`aiotao.schedule.cron`.
"""

from __future__ import annotations

from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

from aiotao.lifecycle import ServerStarted, ServerStopping, add_lifecycle_subscriber
from aiotao.schedule.runner import (
    IScheduler,
    Scheduler,
    TaskRun,
    on_server_started,
    on_server_stopping,
)
from aiotao.schedule.schedules import Cron, Interval, Schedule
from aiotao.schedule.settings import ScheduledTask, read_schedule
from aiotao.services import register_service

__all__ = [
    'Cron',
    'Interval',
    'Schedule',
    'ScheduledTask',
    'Scheduler',
    'TaskRun',
    'includeme',
    'read_schedule',
]


def includeme(config: Configurator) -> None:
    """Schedule the tasks of the ``aiotao.schedule.*`` settings."""
    settings = config.registry.settings or {}
    tasks = read_schedule(settings, package=config.package)
    single = [task for task in tasks if task.single]
    if single:
        if not settings.get('mongo.uri'):
            raise ConfigurationError(
                f'{single[0].setting} = ... single: running in one worker takes '
                f'a lease in MongoDB: set mongo.uri'
            )
        config.include('aiotao.mongo')
    register_service(
        config,
        IScheduler,
        lambda registry: Scheduler(tasks),
        title=f'scheduler ({len(tasks)} tasks)',
        include='aiotao.schedule',
    )
    add_lifecycle_subscriber(config, on_server_started, ServerStarted)
    add_lifecycle_subscriber(config, on_server_stopping, ServerStopping)
