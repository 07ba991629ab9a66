"""Cron expressions: crontab's syntax, next and last due times, time zones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from aiotao.schedule.cron import Cron

PARIS = ZoneInfo('Europe/Paris')


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def dues(cron: Cron, after: datetime, count: int) -> list[datetime]:
    found = []
    for _ in range(count):
        after = cron.next_after(after)
        found.append(after)
    return found


@pytest.mark.parametrize(
    ('expression', 'minutes', 'hours'),
    [
        ('* * * * *', tuple(range(60)), set(range(24))),
        ('*/15 */6 * * *', (0, 15, 30, 45), {0, 6, 12, 18}),
        ('5,10-12 9-17/4 * * *', (5, 10, 11, 12), {9, 13, 17}),
        ('50/5 22/1 * * *', (50, 55), {22, 23}),
        ('@hourly', (0,), set(range(24))),
        ('@daily', (0,), {0}),
    ],
)
def test_fields_are_crontabs(
    expression: str, minutes: tuple[int, ...], hours: set[int]
) -> None:
    cron = Cron.parse(expression)
    assert (cron.minutes, cron.hours) == (minutes, hours)


def test_names_and_both_sundays() -> None:
    assert Cron.parse('0 0 * JAN,dec sun').months == {1, 12}
    # 0 and 7 are Sunday; datetime counts Monday as 0
    assert Cron.parse('0 0 * * 0').weekdays == Cron.parse('0 0 * * 7').weekdays == {6}
    assert Cron.parse('0 0 * * mon-fri').weekdays == {0, 1, 2, 3, 4}


def test_next_due_times() -> None:
    start = utc(2025, 1, 1, 10, 7, 30)  # a Wednesday
    assert dues(Cron.parse('*/20 * * * *'), start, 3) == [
        utc(2025, 1, 1, 10, 20),
        utc(2025, 1, 1, 10, 40),
        utc(2025, 1, 1, 11, 0),
    ]
    assert dues(Cron.parse('30 8 * * mon-fri'), start, 3) == [
        utc(2025, 1, 2, 8, 30),
        utc(2025, 1, 3, 8, 30),
        utc(2025, 1, 6, 8, 30),  # over the weekend
    ]
    assert dues(Cron.parse('@monthly'), start, 2) == [utc(2025, 2, 1), utc(2025, 3, 1)]
    # strictly after: a due time is not due again
    assert Cron.parse('0 * * * *').next_after(utc(2025, 1, 1, 10)) == utc(
        2025, 1, 1, 11
    )


def test_either_day_field_matches_when_both_are_restricted() -> None:
    # cron: "on the 13th, and on Fridays", not "on Friday the 13th"
    days = dues(Cron.parse('0 0 13 * fri'), utc(2025, 6, 1), 4)
    assert days == [
        utc(2025, 6, 6),
        utc(2025, 6, 13),
        utc(2025, 6, 20),
        utc(2025, 6, 27),
    ]
    # a star-led field restricts nothing for that rule: both must match
    days = dues(Cron.parse('0 0 1-7 * */7'), utc(2025, 5, 31), 2)
    assert days == [utc(2025, 6, 1), utc(2025, 7, 6)]


def test_leap_days_come_every_four_years() -> None:
    cron = Cron.parse('0 12 29 2 *')
    assert dues(cron, utc(2025, 1, 1), 2) == [
        utc(2028, 2, 29, 12),
        utc(2032, 2, 29, 12),
    ]
    assert cron.last_due(utc(2020, 1, 1), utc(2027, 6, 1)) == utc(2024, 2, 29, 12)


def test_last_due_is_the_latest_after_since_up_to_now() -> None:
    cron = Cron.parse('0 3 * * *')
    since, now = utc(2025, 1, 1, 3), utc(2025, 1, 9, 2, 59)
    assert cron.last_due(since, now) == utc(2025, 1, 8, 3)  # one, not eight
    assert cron.last_due(since, utc(2025, 1, 2, 3)) == utc(2025, 1, 2, 3)  # inclusive
    assert cron.last_due(since, utc(2025, 1, 2, 2, 59)) is None
    # a schedule due every minute, years after: found without stepping minutes
    every_minute = Cron.parse('* * * * *')
    assert every_minute.last_due(utc(2020, 1, 1), utc(2025, 1, 1, 0, 0, 59)) == utc(
        2025, 1, 1
    )


def test_times_are_wall_clock_times_of_the_time_zone() -> None:
    cron = Cron.parse('30 2 * * *', PARIS)
    # spring forward (2025-03-30, 02:00 -> 03:00): 02:30 does not happen,
    # the run is when the clocks jump over it; the next days as usual
    assert dues(cron, utc(2025, 3, 29, 12), 2) == [
        utc(2025, 3, 30, 1, 30),
        utc(2025, 3, 31, 0, 30),
    ]
    # fall back (2025-10-26, 03:00 -> 02:00): 02:30 happens twice, runs once
    assert dues(cron, utc(2025, 10, 25, 12), 2) == [
        utc(2025, 10, 26, 0, 30),
        utc(2025, 10, 27, 1, 30),
    ]
    hourly = Cron.parse('0 * * * *', PARIS)
    fall_back = dues(hourly, utc(2025, 10, 25, 23, 30), 4)
    assert all(b - a >= timedelta(hours=1) for a, b in pairwise(fall_back))


@pytest.mark.parametrize(
    ('expression', 'message'),
    [
        ('* * * *', 'takes five fields'),
        ('@reboot', 'takes five fields'),
        ('60 * * * *', "'60' is not a minute field: values go from 0 to 59"),
        ('* 24 * * *', 'not a hour field'),
        ('* * 0 * *', 'not a day of month field'),
        ('* * * 13 *', 'not a month field'),
        ('* * * * 8', 'not a day of week field'),
        ('10-5 * * * *', 'ranges from low to high'),
        ('*/0 * * * *', 'steps from 1'),
        ('a * * * *', r'write \*, a number'),
        ('* * * foo *', r'write \*, a number'),
        ('0 0 30 2 *', 'never due'),
        ('0 0 31 4,6,9,11 *', 'never due'),
    ],
)
def test_a_bad_expression_says_what_is_wrong(expression: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Cron.parse(expression)


def test_a_restricted_weekday_makes_any_date_possible() -> None:
    # February 30 never comes, but with a weekday either may match
    assert Cron.parse('0 0 30 2 mon').next_after(utc(2025, 2, 1)) == utc(2025, 2, 3)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match='no time zone'):
        Cron.parse('@daily').next_after(datetime(2025, 1, 1))
