"""Reading ``aiotao.schedule.NAME = SECONDS FUNCTION [single]`` settings.

::

    aiotao.schedule.cleanup = 30 myapp.tasks:cleanup
    aiotao.schedule.digest = 3600 myapp.tasks.send_digest single

``SECONDS`` is the period (a positive number, fractions allowed);
``FUNCTION`` a dotted name (``pkg.module:function`` or
``pkg.module.function``) of an ``async def`` function; ``single`` runs it in
one worker only, wherever the workers are (:mod:`aiotao.schedule.lease`).
Anything else is a :class:`~pyramid.exceptions.ConfigurationError` naming
the setting.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from pyramid.exceptions import ConfigurationError
from pyramid.path import DottedNameResolver

from aiotao.mappers.detection import is_async_callable

PREFIX = 'aiotao.schedule.'

TaskFunction = Callable[[Any], Coroutine[Any, Any, Any]]


@dataclass(frozen=True)
class ScheduledTask:
    """One ``aiotao.schedule.NAME`` setting, checked."""

    name: str
    interval: float
    function: TaskFunction
    single: bool = False

    @property
    def setting(self) -> str:
        return f'{PREFIX}{self.name}'


def read_schedule(
    settings: Mapping[str, Any], package: Any = None
) -> list[ScheduledTask]:
    """Every ``aiotao.schedule.*`` setting, in name order."""
    return [
        parse_task(key[len(PREFIX) :], str(value), package)
        for key, value in sorted(settings.items())
        if key.startswith(PREFIX)
    ]


def parse_task(name: str, value: str, package: Any = None) -> ScheduledTask:
    setting = f'{PREFIX}{name} = {value}'
    usage = (
        f'{setting}: write "SECONDS FUNCTION" or "SECONDS FUNCTION single", '
        f'e.g. {PREFIX}{name or "cleanup"} = 30 myapp.tasks:cleanup'
    )
    if not name.isidentifier():
        raise ConfigurationError(
            f'{setting}: the task name must be a Python identifier'
        )
    words = value.split()
    if len(words) not in (2, 3) or (len(words) == 3 and words[2] != 'single'):
        raise ConfigurationError(usage)
    try:
        interval = float(words[0])
    except ValueError:
        raise ConfigurationError(usage) from None
    if not (math.isfinite(interval) and interval > 0):
        raise ConfigurationError(
            f'{setting}: the period must be a positive number of seconds'
        )
    try:
        function = DottedNameResolver(package).resolve(words[1])
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigurationError(
            f'{setting}: cannot import {words[1]}: {exc}'
        ) from None
    if not is_async_callable(function):
        raise ConfigurationError(
            f'{setting}: {words[1]} must be an async def function taking one argument'
        )
    return ScheduledTask(name, interval, function, single=len(words) == 3)
