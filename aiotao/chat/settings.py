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
``aiotao.chat.presence``        where the chat's presence keeps the names of
                                signed-in users: ``mongodb`` (default, on
                                ``mongo.uri``), ``memory`` (one process) or
                                a Redis URL (``redis://host:6379/0``)
==============================  =============================================

Who is in a room is :mod:`aiotao.presence`'s: its ``aiotao.presence.*``
settings say how soon the people of a worker that died have left.

A bad value stops the start with a ``ConfigurationError`` naming it:

>>> chat_settings({'aiotao.chat.max_length': '0'})
Traceback (most recent call last):
...
pyramid.exceptions.ConfigurationError: aiotao.chat.max_length = '0': expected a whole number from 1 to 10000
>>> chat_settings({'aiotao.chat.rate': '0.5'}).rate_limit
RateLimit(rate=0.5, burst=5, close_after=20)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pyramid.exceptions import ConfigurationError
from pyramid.registry import Registry

from aiotao.interfaces import IChatSettings
from aiotao.services import get_service
from aiotao.settings import optional, positive_number, read_setting, whole_number
from aiotao.websocket.ratelimit import RateLimit

__all__ = ['MAX_TEXT_LENGTH', 'ChatSettings', 'chat_settings', 'get_chat_settings']

SETTINGS_PREFIX = 'aiotao.chat.'
#: The longest ``max_length`` may be (the schema's hard bound).
MAX_TEXT_LENGTH = 10_000
MAX_HISTORY_SIZE = 1000


@dataclass(frozen=True, slots=True)
class ChatSettings:
    """What the ``aiotao.chat.*`` settings decide."""

    history_size: int = 50
    max_length: int = 500
    rate_limit: RateLimit = field(
        default_factory=lambda: RateLimit(rate=2, burst=5, close_after=20)
    )
    #: ``mongodb``, ``memory`` or a Redis URL (:mod:`aiotao.chat.signed_in`).
    presence: str = 'mongodb'


def _presence(settings: Mapping[str, Any]) -> str:
    name = SETTINGS_PREFIX + 'presence'
    value = str(settings.get(name) or 'mongodb').strip()
    if value.lower() in ('mongodb', 'memory'):
        return value.lower()
    if value.lower().startswith(('redis://', 'rediss://', 'unix://')):
        return value
    raise ConfigurationError(
        f'{name} = {value!r}: expected mongodb (the default), memory (one '
        f'process) or a Redis URL (redis://host:6379/0)'
    )


def chat_settings(settings: Mapping[str, Any] | None) -> ChatSettings:
    """Parse the ``aiotao.chat.*`` settings (defaults for those not set)."""
    settings = settings or {}
    default = ChatSettings()
    limit = default.rate_limit
    return ChatSettings(
        history_size=read_setting(
            settings,
            SETTINGS_PREFIX + 'history_size',
            default.history_size,
            whole_number(0, MAX_HISTORY_SIZE),
            f'a whole number from 0 to {MAX_HISTORY_SIZE}',
        ),
        max_length=read_setting(
            settings,
            SETTINGS_PREFIX + 'max_length',
            default.max_length,
            whole_number(1, MAX_TEXT_LENGTH),
            f'a whole number from 1 to {MAX_TEXT_LENGTH}',
        ),
        rate_limit=RateLimit(
            rate=read_setting(
                settings,
                SETTINGS_PREFIX + 'rate',
                limit.rate,
                positive_number,
                'a positive number of messages per second, e.g. 2',
            ),
            burst=read_setting(
                settings,
                SETTINGS_PREFIX + 'burst',
                limit.burst,
                whole_number(1, 1_000_000),
                'a whole number of messages of at least 1, e.g. 5',
            ),
            close_after=read_setting(
                settings,
                SETTINGS_PREFIX + 'close_after',
                limit.close_after,
                optional(whole_number(0, 1_000_000)),
                'a whole number of refused messages, or off',
            ),
        ),
        presence=_presence(settings),
    )


def get_chat_settings(registry: Registry) -> ChatSettings:
    """The application's :class:`ChatSettings` (registered by ``config.include('aiotao.chat')``)."""
    return get_service(registry, IChatSettings, 'aiotao.chat')  # type: ignore[no-any-return]
