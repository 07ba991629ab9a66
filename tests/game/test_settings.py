"""The aiotao.game.* settings: defaults, and errors that name the setting."""

from __future__ import annotations

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

from aiotao.game.settings import GameSettings
from tests.game.rules import Counters

#: The one setting without a default: the game's rules.
RULES = {'aiotao.game.rules': 'tests.game.rules.Counters'}


def read(settings: dict[str, str]) -> GameSettings:
    return GameSettings.from_settings({**RULES, **settings})


def test_defaults() -> None:
    settings = read({})
    assert settings.rules is Counters
    assert settings.tick_rate == 20.0
    assert settings.directory == 'memory'


def test_the_rules_have_no_default() -> None:
    # aiotao ships no game: the application names its rules, or does not start
    for settings in ({}, {'aiotao.game.rules': ''}):
        with pytest.raises(ConfigurationError) as error:
            GameSettings.from_settings(settings)
        assert str(error.value).startswith('aiotao.game.rules is not set')
    config = Configurator(settings={'aiotao.game.tick_rate': '30'})
    with pytest.raises(ConfigurationError, match=r'^aiotao\.game\.rules is not set'):
        config.include('aiotao.game')


def test_the_rules_may_be_the_class_itself() -> None:
    assert GameSettings.from_settings({'aiotao.game.rules': Counters}).rules is Counters


def test_values_are_read() -> None:
    settings = GameSettings.from_settings(
        {
            'aiotao.game.rules': 'tests.game.rules.Counters',
            'aiotao.game.tick_rate': '30',
            'aiotao.game.grace_period': '2.5',
            'aiotao.game.max_rooms': '7',
            'aiotao.game.directory': 'redis://127.0.0.1:6379/1',
        }
    )
    assert settings.rules is Counters
    assert (settings.tick_rate, settings.grace_period, settings.max_rooms) == (
        30,
        2.5,
        7,
    )
    assert settings.directory == 'redis://127.0.0.1:6379/1'


def test_the_directory_follows_a_redis_broadcast_backend() -> None:
    settings = read({'aiotao.broadcast': 'redis://h:1/0'})
    assert settings.directory == 'redis://h:1/0'
    for url in ('redis+sentinel://s1,s2/mymaster/0', 'redis+cluster://h1:7000,h2:7001'):
        assert read({'aiotao.broadcast': url}).directory == url


def test_the_owner_timeout_is_many_ticks() -> None:
    # a few late ticks must not pass for a dead worker
    assert read({}).owner_timeout == 2.0
    slow = read({'aiotao.game.tick_rate': '2'})
    assert slow.owner_timeout == 5.0  # ten ticks
    chosen = read({'aiotao.game.owner_timeout': '0.5'})
    assert chosen.owner_timeout == 0.5


def test_rooms_are_checkpointed_every_two_seconds_unless_told() -> None:
    assert read({}).checkpoint_interval == 2.0
    never = read({'aiotao.game.checkpoint_interval': '0'})
    assert never.checkpoint_interval == 0
    # kept until a dead worker's players have noticed and come back
    settings = read({'aiotao.game.lease': '3', 'aiotao.game.grace_period': '15'})
    assert settings.checkpoint_ttl == 24


@pytest.mark.parametrize(
    ('name', 'value', 'says'),
    [
        ('tick_rate', '0', 'from 1 to 240'),
        ('tick_rate', 'fast', 'from 1 to 240'),
        ('grace_period', '-1', 'seconds'),
        ('max_rooms', '2.5', 'whole number'),
        ('max_messages_per_second', 'nan', 'messages per second'),
        ('rules', 'tests.game.nope.Rules', 'cannot import'),
        ('rules', 'aiotao.game.room.Room', 'not a subclass of aiotao.game.GameRules'),
        ('directory', 'mysql://x', 'redis://'),
        ('directory', 'redis+sentinel://s1:26379', 'the service'),
        ('directory', 'redis+cluster://h1:7000/2', 'database 0 only'),
        ('owner_timeout', 'soon', 'seconds'),
        ('owner_timeout', '0.05', 'at least two ticks (0.1 seconds'),
        ('checkpoint_interval', 'often', 'from 0 to 3600 (seconds; 0: none)'),
        ('checkpoint_interval', '-1', 'from 0 to 3600'),
        (
            'checkpoint_interval',
            '0.01',
            'expected 0 (no checkpoints) or at least one tick',
        ),
    ],
)
def test_a_bad_setting_is_named(name: str, value: str, says: str) -> None:
    with pytest.raises(ConfigurationError) as error:
        read({f'aiotao.game.{name}': value})
    assert f'aiotao.game.{name} = ' in str(error.value)
    assert says in str(error.value)


def test_including_checks_the_settings_at_startup() -> None:
    config = Configurator(settings={**RULES, 'aiotao.game.tick_rate': '1000'})
    with pytest.raises(ConfigurationError, match=r'aiotao\.game\.tick_rate'):
        config.include('aiotao.game')
    config = Configurator(settings={**RULES, 'aiotao.game.checkpoint_interval': 'x'})
    with pytest.raises(ConfigurationError, match=r'aiotao\.game\.checkpoint_interval'):
        config.include('aiotao.game')
