"""The ``aiotao.chat.*`` settings: defaults, parsing, errors naming the setting."""

from __future__ import annotations

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

from aiotao.chat.settings import ChatSettings, chat_settings
from aiotao.websocket.ratelimit import RateLimit


def test_defaults() -> None:
    settings = chat_settings({})
    assert settings == ChatSettings()
    assert settings.history_size == 50
    assert settings.max_length == 500
    assert settings.rate_limit == RateLimit(rate=2, burst=5, close_after=20)


def test_every_setting_is_read() -> None:
    settings = chat_settings(
        {
            'aiotao.chat.history_size': '0',
            'aiotao.chat.max_length': ' 140 ',
            'aiotao.chat.rate': '0.5',
            'aiotao.chat.burst': '3',
            'aiotao.chat.close_after': 'off',
        }
    )
    assert settings == ChatSettings(
        history_size=0,
        max_length=140,
        rate_limit=RateLimit(rate=0.5, burst=3, close_after=None),
    )


@pytest.mark.parametrize(
    ('name', 'value'),
    [
        ('history_size', '-1'),
        ('history_size', '1001'),
        ('history_size', 'fifty'),
        ('max_length', '0'),
        ('max_length', '10001'),
        ('rate', '0'),
        ('rate', 'nan'),
        ('burst', '0'),
        ('close_after', '-2'),
    ],
)
def test_a_bad_value_names_its_setting(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as error:
        chat_settings({f'aiotao.chat.{name}': value})
    assert str(error.value).startswith(f'aiotao.chat.{name} = {value!r}: expected ')


def test_including_the_chat_checks_the_settings() -> None:
    config = Configurator(settings={'aiotao.chat.max_length': 'long'})
    config.include('aiotao')
    with pytest.raises(ConfigurationError, match=r'aiotao\.chat\.max_length'):
        config.include('aiotao.chat')


def test_the_chat_needs_mongodb() -> None:
    config = Configurator(settings={})
    config.include('aiotao')
    with pytest.raises(ConfigurationError, match=r'set mongo\.uri'):
        config.include('aiotao.chat')


def test_the_old_presence_setting_says_what_replaced_it(mongo_uri: str) -> None:
    config = Configurator(
        settings={'mongo.uri': mongo_uri, 'aiotao.chat.presence_ttl': '30'}
    )
    config.include('aiotao')
    with pytest.raises(ConfigurationError, match=r'set aiotao\.presence\.timeout = 30'):
        config.include('aiotao.chat')
