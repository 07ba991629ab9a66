"""When a task is due: every N seconds (:class:`Interval`) or by cron (:class:`Cron`).

A schedule answers two questions about aware datetimes, and nothing else
(no clock, no I/O), so the runner and the tests ask it about any moment:

* ``next_after(moment)``: the first due time after ``moment``;
* ``last_due(since, now)``: the latest due time after ``since`` and no
  later than ``now``, or ``None``: what a worker starting at ``now`` owes,
  when the last run it knows of was due at ``since``.  One run catches up
  however many were missed.

>>> from datetime import datetime, UTC
>>> every_hour = Interval(3600)
>>> since = datetime(2025, 1, 1, tzinfo=UTC)
>>> every_hour.next_after(since)
datetime.datetime(2025, 1, 1, 1, 0, tzinfo=datetime.timezone.utc)
>>> every_hour.last_due(since, datetime(2025, 1, 1, 5, 30, tzinfo=UTC))
datetime.datetime(2025, 1, 1, 5, 0, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from aiotao.schedule.cron import Cron

__all__ = ['Cron', 'Interval', 'Schedule']


class Schedule(Protocol):
    """What the runner asks a schedule (see the module)."""

    def next_after(self, moment: datetime) -> datetime: ...

    def last_due(self, since: datetime, now: datetime) -> datetime | None: ...


@dataclass(frozen=True)
class Interval:
    """Every ``seconds``, counted from the last due time (a fixed grid)."""

    seconds: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.seconds) and self.seconds > 0):
            raise ValueError(
                f'an interval is a positive number of seconds, not {self.seconds}'
            )

    @property
    def period(self) -> timedelta:
        return timedelta(seconds=self.seconds)

    def next_after(self, moment: datetime) -> datetime:
        return moment + self.period

    def last_due(self, since: datetime, now: datetime) -> datetime | None:
        missed = math.floor((now - since) / self.period)
        return since + missed * self.period if missed >= 1 else None

    def __str__(self) -> str:
        return f'every {self.seconds:g}s'
