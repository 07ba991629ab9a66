"""The ``aiotao.presence.*`` settings: defaults, parsing, errors naming the setting."""

from __future__ import annotations

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

from aiotao.presence import PresenceSettings, presence_settings


def test_defaults_and_values() -> None:
    assert presence_settings({}) == PresenceSettings(heartbeat=2, timeout=10, linger=3)
    read = presence_settings(
        {
            'aiotao.presence.heartbeat': '0.5',
            'aiotao.presence.timeout': '4',
            'aiotao.presence.linger': '0',
        }
    )
    assert read == PresenceSettings(heartbeat=0.5, timeout=4, linger=0)


@pytest.mark.parametrize(
    ('name', 'value'),
    [('heartbeat', '0'), ('heartbeat', 'often'), ('timeout', '-1'), ('linger', 'nan')],
)
def test_a_bad_value_names_its_setting(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as error:
        presence_settings({f'aiotao.presence.{name}': value})
    assert str(error.value).startswith(f'aiotao.presence.{name} = {value!r}: expected ')


def test_including_checks_the_settings_at_startup() -> None:
    config = Configurator(settings={'aiotao.presence.timeout': '1'})
    config.include('aiotao')
    with pytest.raises(ConfigurationError, match='at least two heartbeats'):
        config.include('aiotao.presence')
