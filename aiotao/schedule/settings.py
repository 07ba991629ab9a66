"""Reading ``aiotao.schedule.NAME = SCHEDULE FUNCTION [single]`` settings.

::

    aiotao.schedule.cleanup = 30 myapp.tasks:cleanup
    aiotao.schedule.digest = 0 3 * * * myapp.tasks.send_digest single
    aiotao.schedule.purge = @weekly myapp.tasks:purge single
    aiotao.schedule.timezone = Europe/Paris

``SCHEDULE`` is a period in seconds (a positive number, fractions
allowed), five cron fields, or a cron shortcut such as ``@daily``
(:mod:`aiotao.schedule.cron`); ``FUNCTION`` a dotted name
(``pkg.module:function`` or ``pkg.module.function``) of an ``async def``
function; ``single`` runs it in one worker only, wherever the workers are
(:mod:`aiotao.schedule.lease`).  ``aiotao.schedule.timezone`` (an IANA
name; UTC by default) is the zone of the cron times, so ``timezone`` is
not a task name.  Anything else is a
:class:`~pyramid.exceptions.ConfigurationError` naming the setting.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pyramid.exceptions import ConfigurationError
from pyramid.path import DottedNameResolver

from aiotao.mappers.detection import is_async_callable
from aiotao.schedule.schedules import Cron, Interval, Schedule

PREFIX = 'aiotao.schedule.'
TIMEZONE = f'{PREFIX}timezone'

TaskFunction = Callable[[Any], Coroutine[Any, Any, Any]]

_CRON_FIELDS = 5


@dataclass(frozen=True)
class ScheduledTask:
    """One ``aiotao.schedule.NAME`` setting, checked."""

    name: str
    schedule: Schedule
    function: TaskFunction
    single: bool = False

    @property
    def setting(self) -> str:
        return f'{PREFIX}{self.name}'

    @property
    def interval(self) -> float | None:
        """The period in seconds of an interval task; ``None`` for cron."""
        return self.schedule.seconds if isinstance(self.schedule, Interval) else None


def read_schedule(
    settings: Mapping[str, Any], package: Any = None
) -> list[ScheduledTask]:
    """Every ``aiotao.schedule.*`` setting, in name order."""
    timezone = read_timezone(settings)
    return [
        parse_task(key[len(PREFIX) :], str(value), package, timezone)
        for key, value in sorted(settings.items())
        if key.startswith(PREFIX) and key != TIMEZONE
    ]


def read_timezone(settings: Mapping[str, Any]) -> tzinfo:
    """The zone of cron times: ``aiotao.schedule.timezone``, else UTC."""
    name = str(settings.get(TIMEZONE) or '').strip()
    if not name or name.upper() == 'UTC':
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(
            f'{TIMEZONE} = {name}: not a time zone name; write one such as '
            f'Europe/Paris or America/New_York (the IANA database), or UTC'
        ) from None


def parse_task(
    name: str, value: str, package: Any = None, timezone: tzinfo = UTC
) -> ScheduledTask:
    setting = f'{PREFIX}{name} = {value}'
    usage = (
        f'{setting}: write "SECONDS FUNCTION", "MIN HOUR DAY MONTH WEEKDAY '
        f'FUNCTION" or "@daily FUNCTION", each optionally followed by '
        f'"single", e.g. {PREFIX}{name or "cleanup"} = 30 myapp.tasks:cleanup'
    )
    if not name.isidentifier():
        raise ConfigurationError(
            f'{setting}: the task name must be a Python identifier'
        )
    words = value.split()
    single = bool(words) and words[-1] == 'single'
    if single:
        words = words[:-1]
    if len(words) == 2:
        schedule = _one_word_schedule(words[0], setting, usage, timezone)
    elif len(words) == _CRON_FIELDS + 1:
        schedule = _cron(' '.join(words[:_CRON_FIELDS]), setting, timezone)
    else:
        raise ConfigurationError(usage)
    dotted = words[-1]
    try:
        function = DottedNameResolver(package).resolve(dotted)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigurationError(f'{setting}: cannot import {dotted}: {exc}') from None
    if not is_async_callable(function):
        raise ConfigurationError(
            f'{setting}: {dotted} must be an async def function taking one argument'
        )
    return ScheduledTask(name, schedule, function, single=single)


def _one_word_schedule(
    word: str, setting: str, usage: str, timezone: tzinfo
) -> Schedule:
    if word.startswith('@'):
        return _cron(word, setting, timezone)
    try:
        seconds = float(word)
    except ValueError:
        raise ConfigurationError(usage) from None
    if not (math.isfinite(seconds) and seconds > 0):
        raise ConfigurationError(
            f'{setting}: the period must be a positive number of seconds'
        )
    return Interval(seconds)


def _cron(expression: str, setting: str, timezone: tzinfo) -> Cron:
    try:
        return Cron.parse(expression, timezone)
    except ValueError as exc:
        raise ConfigurationError(f'{setting}: {exc}') from None
