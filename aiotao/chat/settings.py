"""The ``aiotao.chat.*`` settings, checked when the application starts.

==============================  =============================================
setting                         meaning
==============================  =============================================
``aiotao.chat.history_size``    messages a client gets on joining (50; 0-1000)
``aiotao.chat.max_length``      characters in a message (500; 1-10000)
``aiotao.chat.rate``            messages per second per connection (2)
``aiotao.chat.burst``           messages at once after a pause (5)
``aiotao.chat.close_after``     refused messages in a row before a flooding
                                client is closed with 1008 (20; ``off``)
``aiotao.chat.presence_ttl``    seconds after which the members of a worker
                                that died are gone (30)
==============================  =============================================

A bad value stops the start with a ``ConfigurationError`` naming it:

>>> chat_settings({'aiotao.chat.max_length': '0'})
Traceback (most recent call last):
...
pyramid.exceptions.ConfigurationError: aiotao.chat.max_length = '0': expected a whole number from 1 to 10000
>>> chat_settings({'aiotao.chat.rate': '0.5'}).rate_limit
RateLimit(rate=0.5, burst=5, close_after=20)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pyramid.exceptions import ConfigurationError
from pyramid.registry import Registry

from aiotao.websocket.ratelimit import RateLimit

__all__ = ['MAX_TEXT_LENGTH', 'ChatSettings', 'chat_settings', 'get_chat_settings']

SETTINGS_PREFIX = 'aiotao.chat.'
#: The longest ``max_length`` may be (the schema's hard bound).
MAX_TEXT_LENGTH = 10_000
MAX_HISTORY_SIZE = 1000

T = TypeVar('T')

_OFF = frozenset({'off', 'none', 'never', ''})


@dataclass(frozen=True, slots=True)
class ChatSettings:
    """What the ``aiotao.chat.*`` settings decide."""

    history_size: int = 50
    max_length: int = 500
    rate_limit: RateLimit = field(
        default_factory=lambda: RateLimit(rate=2, burst=5, close_after=20)
    )
    presence_ttl: float = 30.0

    @property
    def heartbeat_interval(self) -> float:
        """How often a worker renews its members' presence (three per TTL)."""
        return self.presence_ttl / 3


def _whole(low: int, high: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise TypeError(value)
        number = int(str(value).strip())
        if not low <= number <= high:
            raise ValueError(value)
        return number

    return parse


def _positive(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError(value)
    number = float(str(value).strip())
    if not (number > 0 and math.isfinite(number)):
        raise ValueError(value)
    return number


def _optional_count(value: Any) -> int | None:
    if value is None or str(value).strip().lower() in _OFF:
        return None
    return _whole(0, 1_000_000)(value)


def _setting(
    settings: Mapping[str, Any],
    name: str,
    default: T,
    parse: Callable[[Any], T],
    expected: str,
) -> T:
    key = SETTINGS_PREFIX + name
    if key not in settings:
        return default
    value = settings[key]
    try:
        return parse(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f'{key} = {value!r}: expected {expected}') from None


def chat_settings(settings: Mapping[str, Any] | None) -> ChatSettings:
    """Parse the ``aiotao.chat.*`` settings (defaults for those not set)."""
    settings = settings or {}
    default = ChatSettings()
    limit = default.rate_limit
    return ChatSettings(
        history_size=_setting(
            settings,
            'history_size',
            default.history_size,
            _whole(0, MAX_HISTORY_SIZE),
            f'a whole number from 0 to {MAX_HISTORY_SIZE}',
        ),
        max_length=_setting(
            settings,
            'max_length',
            default.max_length,
            _whole(1, MAX_TEXT_LENGTH),
            f'a whole number from 1 to {MAX_TEXT_LENGTH}',
        ),
        rate_limit=RateLimit(
            rate=_setting(
                settings,
                'rate',
                limit.rate,
                _positive,
                'a positive number of messages per second, e.g. 2',
            ),
            burst=_setting(
                settings,
                'burst',
                limit.burst,
                _whole(1, 1_000_000),
                'a whole number of messages of at least 1, e.g. 5',
            ),
            close_after=_setting(
                settings,
                'close_after',
                limit.close_after,
                _optional_count,
                'a whole number of refused messages, or off',
            ),
        ),
        presence_ttl=_setting(
            settings,
            'presence_ttl',
            default.presence_ttl,
            _positive,
            'a positive number of seconds, e.g. 30',
        ),
    )


_REGISTRY_KEY = 'aiotao.chat.settings'


def get_chat_settings(registry: Registry) -> ChatSettings:
    """The application's :class:`ChatSettings`, parsed once."""
    parsed = registry.get(_REGISTRY_KEY)
    if parsed is None:
        parsed = registry[_REGISTRY_KEY] = chat_settings(
            getattr(registry, 'settings', None)
        )
    return parsed  # type: ignore[no-any-return]
