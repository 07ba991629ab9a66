"""The ``aiotao.presence.*`` settings, checked when the application starts.

==============================  ===============================================
setting                         meaning
==============================  ===============================================
``aiotao.presence.heartbeat``   seconds between two "still here" messages of
                                a worker (2)
``aiotao.presence.timeout``     seconds without a word from a worker after
                                which the people on it have left (10; at
                                least two heartbeats)
``aiotao.presence.linger``      seconds a person whose last connection closed
                                stays present, so that a reload or a
                                reconnection is not a leave and a join (3)
==============================  ===============================================

Each worker measures silence on its own clock: the machines' clocks need
not agree.

>>> presence_settings({'aiotao.presence.timeout': '1', 'aiotao.presence.heartbeat': '2'})
Traceback (most recent call last):
...
pyramid.exceptions.ConfigurationError: aiotao.presence.timeout = '1': expected at least two heartbeats (4 seconds with aiotao.presence.heartbeat = 2)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pyramid.exceptions import ConfigurationError
from pyramid.registry import Registry

from aiotao.interfaces import IPresenceSettings
from aiotao.services import get_service
from aiotao.settings import number, read_setting

__all__ = ['PresenceSettings', 'get_presence_settings', 'presence_settings']

PREFIX = 'aiotao.presence.'
_REPLACED = 'aiotao.chat.presence_ttl'


@dataclass(frozen=True, slots=True)
class PresenceSettings:
    """What the ``aiotao.presence.*`` settings decide.

    >>> PresenceSettings().timeout
    10.0
    """

    heartbeat: float = 2.0
    timeout: float = 10.0
    linger: float = 3.0

    @property
    def tick(self) -> float:
        """How often the tracker looks at its clocks (beats, silences, lingers)."""
        return min(self.heartbeat, self.linger or self.heartbeat) / 4


def _seconds(
    settings: Mapping[str, Any], name: str, default: float, low: float
) -> float:
    expected = f'a number of seconds from {low:g} to 3600, e.g. {default:g}'
    return read_setting(settings, PREFIX + name, default, number(low, 3600), expected)


def presence_settings(settings: Mapping[str, Any] | None) -> PresenceSettings:
    """Parse the ``aiotao.presence.*`` settings (defaults for those not set)."""
    settings = settings or {}
    if settings.get(_REPLACED):
        raise ConfigurationError(
            f'{_REPLACED} was replaced by {PREFIX}timeout (seconds without a '
            f'word from a worker before its people have left): set '
            f'{PREFIX}timeout = {settings[_REPLACED]} instead'
        )
    default = PresenceSettings()
    heartbeat = _seconds(settings, 'heartbeat', default.heartbeat, 0.01)
    timeout = _seconds(settings, 'timeout', default.timeout, 0.02)
    if timeout < 2 * heartbeat:
        raise ConfigurationError(
            f'{PREFIX}timeout = {settings.get(PREFIX + "timeout")!r}: expected at '
            f'least two heartbeats ({2 * heartbeat:g} seconds with '
            f'{PREFIX}heartbeat = {heartbeat:g})'
        )
    linger = _seconds(settings, 'linger', default.linger, 0)
    return PresenceSettings(heartbeat=heartbeat, timeout=timeout, linger=linger)


def get_presence_settings(registry: Registry) -> PresenceSettings:
    """The application's :class:`PresenceSettings` (registered by ``config.include('aiotao.presence')``)."""
    return get_service(registry, IPresenceSettings, 'aiotao.presence')  # type: ignore[no-any-return]
