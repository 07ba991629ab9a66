"""``aiotao.schedule.NAME = SECONDS FUNCTION [single]``, checked at startup."""

from __future__ import annotations

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

from aiotao.schedule import Cron, Interval, read_schedule
from tests.pkgs.mongoapp import tasks


def test_tasks_are_read_from_the_settings() -> None:
    settings = {
        'aiotao.schedule.cleanup': '30 tests.pkgs.mongoapp.tasks:record',
        'aiotao.schedule.digest': ' 0.5  tests.pkgs.mongoapp.tasks.record_in_db  single ',
        'mongo.uri': 'mongodb://127.0.0.1/shop',
    }
    cleanup, digest = read_schedule(settings)
    assert (cleanup.name, cleanup.interval, cleanup.function, cleanup.single) == (
        'cleanup',
        30.0,
        tasks.record,
        False,
    )
    assert (digest.name, digest.interval, digest.function, digest.single) == (
        'digest',
        0.5,
        tasks.record_in_db,
        True,
    )


@pytest.mark.parametrize(
    ('value', 'message'),
    [
        ('tests.pkgs.mongoapp.tasks:record', 'write "SECONDS FUNCTION"'),
        ('often tests.pkgs.mongoapp.tasks:record', 'write "SECONDS FUNCTION"'),
        ('0 tests.pkgs.mongoapp.tasks:record', 'positive number of seconds'),
        ('-5 tests.pkgs.mongoapp.tasks:record', 'positive number of seconds'),
        ('nan tests.pkgs.mongoapp.tasks:record', 'positive number of seconds'),
        ('30 tests.pkgs.mongoapp.tasks:nothing', 'cannot import'),
        ('30 tests.pkgs.nowhere:task', 'cannot import'),
        ('30 tests.pkgs.mongoapp.tasks:not_async', 'must be an async def function'),
        ('30 tests.pkgs.mongoapp.tasks:record twice', 'write "SECONDS FUNCTION"'),
    ],
)
def test_a_bad_setting_stops_the_start_naming_it(value: str, message: str) -> None:
    config = Configurator(settings={'aiotao.schedule.cleanup': value})
    with pytest.raises(ConfigurationError) as raised:
        config.include('aiotao.schedule')
    assert f'aiotao.schedule.cleanup = {value}' in str(raised.value)
    assert message in str(raised.value)


def test_single_needs_mongodb() -> None:
    config = Configurator(
        settings={
            'aiotao.schedule.digest': '60 tests.pkgs.mongoapp.tasks:record single'
        }
    )
    with pytest.raises(ConfigurationError, match=r'lease in MongoDB: set mongo.uri'):
        config.include('aiotao.schedule')


def test_cron_schedules_beside_intervals() -> None:
    settings = {
        'aiotao.schedule.digest': '0 3 * * * tests.pkgs.mongoapp.tasks:record single',
        'aiotao.schedule.purge': '@weekly tests.pkgs.mongoapp.tasks:record',
        'aiotao.schedule.tick': '15 tests.pkgs.mongoapp.tasks:record',
        'aiotao.schedule.timezone': 'Europe/Paris',
    }
    digest, purge, tick = read_schedule(settings)
    assert isinstance(digest.schedule, Cron) and digest.single
    assert digest.schedule.hours == {3} and digest.interval is None
    assert str(digest.schedule.timezone) == 'Europe/Paris'
    assert isinstance(purge.schedule, Cron) and not purge.single
    assert purge.schedule.weekdays == {6}  # Sunday
    assert tick.schedule == Interval(15) and tick.interval == 15


@pytest.mark.parametrize(
    ('value', 'message'),
    [
        ('0 3 * * tests.pkgs.mongoapp.tasks:record', 'write "SECONDS FUNCTION"'),
        ('61 3 * * * tests.pkgs.mongoapp.tasks:record', 'is not a minute field'),
        ('0 0 30 2 * tests.pkgs.mongoapp.tasks:record', 'never due'),
        ('@fortnightly tests.pkgs.mongoapp.tasks:record', 'takes five fields'),
    ],
)
def test_a_bad_cron_schedule_stops_the_start_naming_it(
    value: str, message: str
) -> None:
    config = Configurator(settings={'aiotao.schedule.report': value})
    with pytest.raises(ConfigurationError) as raised:
        config.include('aiotao.schedule')
    assert f'aiotao.schedule.report = {value}' in str(raised.value)
    assert message in str(raised.value)


def test_a_bad_time_zone_is_named() -> None:
    config = Configurator(settings={'aiotao.schedule.timezone': 'Mars/Olympus'})
    with pytest.raises(ConfigurationError, match=r'aiotao\.schedule\.timezone = Mars'):
        config.include('aiotao.schedule')
