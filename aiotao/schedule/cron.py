"""Cron schedules: ``minute hour day-of-month month day-of-week``, as in crontab.

::

    aiotao.schedule.digest = 0 3 * * * myapp.tasks:send_digest single
    aiotao.schedule.report = 30 8 * * mon-fri myapp.tasks:report single
    aiotao.schedule.purge = @weekly myapp.tasks:purge single

The five fields and their values are crontab's (Vixie cron, as in
``crontab(5)``):

=============  ========  ==========================================
field          values    names
=============  ========  ==========================================
minute         0-59
hour           0-23
day of month   1-31
month          1-12      ``jan``-``dec``
day of week    0-7       ``sun``-``sat`` (0 and 7 are both Sunday)
=============  ========  ==========================================

Each field is ``*``, a value, a range ``a-b``, a step ``*/n``, ``a-b/n`` or
``a/n`` (from ``a`` to the end), or a comma-separated list of those.  When
both day fields are restricted (neither starts with ``*``), a day matches
if either does, as in cron.  ``@hourly``, ``@daily`` (``@midnight``),
``@weekly``, ``@monthly`` and ``@yearly`` (``@annually``) stand for their
usual five fields.

Times are wall-clock times in the schedule's time zone (UTC unless
``aiotao.schedule.timezone`` says otherwise).  Across a daylight-saving
change a time that happens twice runs once (the first), and a time that
does not happen runs at the moment the clocks jump over it.

The module is pure: no clock, no I/O.  Why not croniter: the syntax is
small and fixed, aiotao needs the previous due time as much as the next
(to catch up after a restart), and croniter would bring python-dateutil
along and has changed hands twice since 2024.

>>> from datetime import datetime, UTC
>>> cron = Cron.parse('30 8 * * mon-fri')
>>> cron.next_after(datetime(2025, 1, 3, 9, 0, tzinfo=UTC))   # a Friday
datetime.datetime(2025, 1, 6, 8, 30, tzinfo=datetime.timezone.utc)
>>> cron.last_due(since=datetime(2025, 1, 1, tzinfo=UTC),
...               now=datetime(2025, 1, 5, 12, 0, tzinfo=UTC))  # a Sunday
datetime.datetime(2025, 1, 3, 8, 30, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

__all__ = ['Cron']

SHORTCUTS = {
    '@yearly': '0 0 1 1 *',
    '@annually': '0 0 1 1 *',
    '@monthly': '0 0 1 * *',
    '@weekly': '0 0 * * 0',
    '@daily': '0 0 * * *',
    '@midnight': '0 0 * * *',
    '@hourly': '0 * * * *',
}

_MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun',
           'jul', 'aug', 'sep', 'oct', 'nov', 'dec']  # fmt: skip
_DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat']
#: (name, lowest, highest, names of the values from the lowest) per field
_FIELDS = [
    ('minute', 0, 59, []),
    ('hour', 0, 23, []),
    ('day of month', 1, 31, []),
    ('month', 1, 12, _MONTHS),
    ('day of week', 0, 7, _DAYS),
]
#: How far a search looks before giving up: every day of the week falls on
#: every date of the year within 28 years, leap days included.
_SEARCH_YEARS = 28
_MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class Cron:
    """A parsed cron expression, with the time zone its times are in."""

    expression: str
    minutes: tuple[int, ...]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 is Monday, as datetime.weekday() counts
    #: Whether day of month and day of week were both restricted (either
    #: then matches), as cron decides it: neither field starts with ``*``.
    either_day: bool
    timezone: tzinfo = UTC

    @classmethod
    def parse(cls, expression: str, timezone: tzinfo = UTC) -> Cron:
        """Parse five fields or a shortcut; :class:`ValueError` says what is wrong.

        >>> Cron.parse('*/20 9-17 * * 1-5').minutes
        (0, 20, 40)
        >>> Cron.parse('0 0 30 2 *')
        Traceback (most recent call last):
        ...
        ValueError: '0 0 30 2 *' is never due: no month has those days
        """
        text = SHORTCUTS.get(expression.strip().lower(), expression)
        fields = text.split()
        if len(fields) != 5:
            raise ValueError(
                f'{expression!r} is not a cron expression: it takes five fields '
                f'(minute hour day-of-month month day-of-week) or one of '
                f'{", ".join(SHORTCUTS)}'
            )
        values = [
            _parse_field(field, *spec)
            for field, spec in zip(fields, _FIELDS, strict=True)
        ]
        minutes, hours, days, months, weekdays = values
        # cron counts Sunday as 0 and 7; datetime.weekday() has Monday as 0
        weekdays = {(day - 1) % 7 for day in weekdays}
        cron = cls(
            expression=' '.join(expression.split()),
            minutes=tuple(sorted(minutes)),
            hours=frozenset(hours),
            days=frozenset(days),
            months=frozenset(months),
            weekdays=frozenset(weekdays),
            either_day=not fields[2].startswith('*') and not fields[4].startswith('*'),
            timezone=timezone,
        )
        if cron.either_day or not fields[4].startswith('*'):
            return cron  # a day of the week is enough: every month has them
        if not any(day <= _longest(month) for month in months for day in days):
            raise ValueError(f'{expression!r} is never due: no month has those days')
        return cron

    def __str__(self) -> str:
        return f'at {self.expression!r} ({self.timezone})'

    def next_after(self, moment: datetime) -> datetime:
        """The first due time after ``moment`` (an aware datetime), in UTC."""
        start = _wall_clock(moment, self.timezone) + _MINUTE
        while True:
            candidate = self._next_wall_clock(start)
            due = candidate.replace(tzinfo=self.timezone).astimezone(UTC)
            if due > moment:
                return due
            # the other side of a daylight-saving change: look further on
            start = candidate + _MINUTE

    def last_due(self, since: datetime, now: datetime) -> datetime | None:
        """The latest due time after ``since`` and no later than ``now``, if any."""
        start = _wall_clock(now, self.timezone)
        while True:
            candidate = self._previous_wall_clock(start)
            due = candidate.replace(tzinfo=self.timezone).astimezone(UTC)
            if due <= now:
                return due if due > since else None
            start = candidate - _MINUTE

    def _day_matches(self, moment: datetime) -> bool:
        in_month = moment.day in self.days
        in_week = moment.weekday() in self.weekdays
        return (in_month or in_week) if self.either_day else (in_month and in_week)

    def _next_wall_clock(self, start: datetime) -> datetime:
        """The first matching minute at or after ``start`` (naive wall clock)."""
        moment = start
        while moment.year - start.year <= _SEARCH_YEARS:
            if moment.month not in self.months:
                moment = _first_of_next_month(moment)
            elif not self._day_matches(moment):
                moment = moment.replace(hour=0, minute=0) + timedelta(days=1)
            elif moment.hour not in self.hours:
                moment = moment.replace(minute=0) + timedelta(hours=1)
            else:
                later = bisect.bisect_left(self.minutes, moment.minute)
                if later < len(self.minutes):
                    return moment.replace(minute=self.minutes[later])
                moment = moment.replace(minute=0) + timedelta(hours=1)
        raise ValueError(f'{self.expression!r} is not due in {_SEARCH_YEARS} years')

    def _previous_wall_clock(self, start: datetime) -> datetime:
        """The last matching minute at or before ``start`` (naive wall clock)."""
        moment = start
        while start.year - moment.year <= _SEARCH_YEARS:
            if moment.month not in self.months:
                moment = moment.replace(day=1, hour=0, minute=0) - _MINUTE
            elif not self._day_matches(moment):
                moment = moment.replace(hour=0, minute=0) - _MINUTE
            elif moment.hour not in self.hours:
                moment = moment.replace(minute=0) - _MINUTE
            else:
                earlier = bisect.bisect_right(self.minutes, moment.minute)
                if earlier > 0:
                    return moment.replace(minute=self.minutes[earlier - 1])
                moment = moment.replace(minute=0) - _MINUTE
        raise ValueError(f'{self.expression!r} was not due in {_SEARCH_YEARS} years')


def _parse_field(
    field: str, name: str, low: int, high: int, names: list[str]
) -> set[int]:
    values: set[int] = set()
    for item in field.lower().split(','):
        span, slash, step_text = item.partition('/')
        try:
            step = int(step_text) if slash else 1
            if span == '*':
                first, last = low, high
            elif '-' in span:
                start, _, end = span.partition('-')
                first, last = _value(start, low, names), _value(end, low, names)
            else:
                first = _value(span, low, names)
                last = high if slash else first
        except ValueError:
            raise ValueError(
                f'{field!r} is not a {name} field: write *, a number, a range '
                f'a-b, a step */n or a-b/n, or a list of them'
            ) from None
        if not (low <= first <= last <= high) or step < 1:
            raise ValueError(
                f'{field!r} is not a {name} field: values go from {low} to {high}, '
                f'ranges from low to high, steps from 1'
            )
        values.update(range(first, last + 1, step))
    return values


def _value(text: str, low: int, names: list[str]) -> int:
    if text in names:
        return low + names.index(text)
    if not text.isdigit():
        raise ValueError(text)
    return int(text)


def _wall_clock(moment: datetime, timezone: tzinfo) -> datetime:
    """``moment`` on the zone's clocks, naive, to the minute."""
    if moment.tzinfo is None:
        raise ValueError(f'{moment!r} has no time zone: give an aware datetime')
    local = moment.astimezone(timezone).replace(tzinfo=None)
    return local.replace(second=0, microsecond=0)


def _first_of_next_month(moment: datetime) -> datetime:
    first = moment.replace(day=1, hour=0, minute=0)
    return (first + timedelta(days=32)).replace(day=1)


def _longest(month: int) -> int:
    """The most days ``month`` has (29 for February: leap years count)."""
    return {2: 29, 4: 30, 6: 30, 9: 30, 11: 30}.get(month, 31)
