"""The ``aiotao.game.*`` settings, checked when the application starts.

::

    [app:main]
    aiotao.game.rules = myproject.arena.Arena  # your GameRules subclass (required)
    aiotao.game.tick_rate = 20            # ticks per second
    aiotao.game.grace_period = 15         # seconds a dropped player keeps its seat
    aiotao.game.empty_timeout = 2         # seconds an empty room lives on
    aiotao.game.bots = 3                  # bots in a room quick play opens (people
                                          # arriving take their seats)
    aiotao.game.max_rooms = 100           # rooms one worker process owns at most
    aiotao.game.max_queued_inputs = 4     # inputs waiting per player for a tick
    aiotao.game.max_messages_per_second = 40  # per connection; flooding closes 1008
    aiotao.game.keyframe_interval = 5     # seconds between full snapshots
    aiotao.game.directory = memory        # or mongodb, or a Redis URL (several workers)
    aiotao.game.lease = 10                # seconds a room's directory entry lives
    aiotao.game.owner_timeout = 2         # seconds of silence from a room's worker before
                                          # its relayed players are told it stopped
                                          # (default: 2 s or 10 ticks, the longer)
    aiotao.game.checkpoint_interval = 2   # seconds between two checkpoints of a room, from
                                          # which another worker resumes it if its worker
                                          # dies (0: none; the room is then replaced)

A bad value is a :class:`~pyramid.exceptions.ConfigurationError` naming
the setting:

>>> GameSettings.from_settings({'aiotao.game.tick_rate': 'fast'})
Traceback (most recent call last):
...
pyramid.exceptions.ConfigurationError: aiotao.game.tick_rate = 'fast': expected a number from 1 to 240 (ticks per second)

The rules have no default: aiotao ships no game (the demo's arena shooter
and the websocket scaffold's are applications' code):

>>> GameSettings.from_settings({})
Traceback (most recent call last):
...
pyramid.exceptions.ConfigurationError: aiotao.game.rules is not set: name your game's rules, the dotted name of a GameRules subclass (aiotao.game.rules = myproject.rules.MyRules; pcreate -s aiotao_websocket makes a project with an arena shooter to start from)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pyramid.exceptions import ConfigurationError
from pyramid.path import DottedNameResolver

from aiotao.game.rules import GameRules
from aiotao.rendering import json_encoder
from aiotao.settings import number, read_setting, whole_number
from aiotao.websocket.backends.redis_urls import SCHEMES, parse_redis_url

__all__ = ['PREFIX', 'GameSettings']

PREFIX = 'aiotao.game.'


def _number(
    settings: Mapping[str, Any],
    name: str,
    default: float,
    low: float,
    high: float,
    unit: str,
) -> float:
    expected = f'a number from {low:g} to {high:g} ({unit})'
    return read_setting(
        settings, PREFIX + name, float(default), number(low, high), expected
    )


def _integer(
    settings: Mapping[str, Any], name: str, default: int, low: int, high: int, unit: str
) -> int:
    expected = f'a whole number from {low} to {high} ({unit})'
    return read_setting(
        settings, PREFIX + name, default, whole_number(low, high), expected
    )


def _rules(settings: Mapping[str, Any]) -> type[GameRules[Any]]:
    name = settings.get(PREFIX + 'rules')
    if not name:
        raise ConfigurationError(
            f"{PREFIX}rules is not set: name your game's rules, the dotted name "
            f'of a GameRules subclass ({PREFIX}rules = myproject.rules.MyRules; '
            f'pcreate -s aiotao_websocket makes a project with an arena shooter '
            f'to start from)'
        )
    try:
        rules = DottedNameResolver().maybe_resolve(name)
    except (ImportError, ValueError) as exc:
        raise ConfigurationError(
            f'{PREFIX}rules = {name!r}: cannot import it ({exc}); expected the '
            f'dotted name of a GameRules subclass, e.g. myproject.rules.MyRules'
        ) from None
    if not (isinstance(rules, type) and issubclass(rules, GameRules)):
        raise ConfigurationError(
            f'{PREFIX}rules = {name!r}: {rules!r} is not a subclass of '
            f'aiotao.game.GameRules'
        )
    if not hasattr(rules, 'input_schema'):
        raise ConfigurationError(
            f'{PREFIX}rules = {name!r}: {rules.__name__} has no input_schema '
            f'(the dataclass of its input messages)'
        )
    return rules


def _owner_timeout(settings: Mapping[str, Any], tick_rate: float) -> float:
    # the owner broadcasts every tick: a timeout of a tick or two would
    # take any late tick for a dead worker
    shortest = 2 / tick_rate
    default = max(2.0, 10 / tick_rate)
    value = _number(settings, 'owner_timeout', default, 0.01, 3600, 'seconds')
    if value < shortest:
        raise ConfigurationError(
            f'{PREFIX}owner_timeout = {settings[PREFIX + "owner_timeout"]!r}: '
            f'expected at least two ticks ({shortest:g} seconds at '
            f'{PREFIX}tick_rate = {tick_rate:g})'
        )
    return value


def _checkpoint_interval(settings: Mapping[str, Any], tick_rate: float) -> float:
    value = _number(settings, 'checkpoint_interval', 2, 0, 3600, 'seconds; 0: none')
    if 0 < value < 1 / tick_rate:
        raise ConfigurationError(
            f'{PREFIX}checkpoint_interval = '
            f'{settings[PREFIX + "checkpoint_interval"]!r}: expected 0 (no '
            f'checkpoints) or at least one tick ({1 / tick_rate:g} seconds at '
            f'{PREFIX}tick_rate = {tick_rate:g})'
        )
    return value


def _directory(settings: Mapping[str, Any]) -> str:
    value = str(settings.get(PREFIX + 'directory') or '').strip()
    if not value:
        # where the broadcast backend is, the rooms are listed too
        broadcast = str(settings.get('aiotao.broadcast') or '').strip()
        if _is_redis(broadcast):
            return broadcast
        return 'mongodb' if broadcast == 'mongodb' else 'memory'
    if _is_redis(value):
        parse_redis_url(value, PREFIX + 'directory')  # names a malformed URL
        return value
    if value in ('memory', 'mongodb'):
        if value == 'mongodb' and not settings.get('mongo.uri'):
            raise ConfigurationError(
                f'{PREFIX}directory = mongodb: set mongo.uri too (the rooms are '
                f"listed in the application's MongoDB database)"
            )
        return value
    raise ConfigurationError(
        f'{PREFIX}directory = {value!r}: expected memory (one process), mongodb '
        f"(the application's mongo.uri) or a redis://, redis+sentinel:// or "
        f'redis+cluster:// URL (rooms shared by several workers)'
    )


def _is_redis(value: str) -> bool:
    scheme, sep, _ = value.partition('://')
    return bool(sep) and scheme.lower() in SCHEMES


@dataclass(frozen=True, slots=True)
class GameSettings:
    """Everything the ``aiotao.game.*`` settings decide.

    >>> class Idle(GameRules[None]):   # rules: a class, or its dotted name
    ...     input_schema = type(None)
    >>> GameSettings.from_settings({'aiotao.game.rules': Idle}).tick_rate
    20.0
    """

    rules: type[GameRules[Any]]
    tick_rate: float = 20.0
    grace_period: float = 15.0
    empty_timeout: float = 2.0
    #: Bots in a room quick play opens.
    bots: int = 3
    max_rooms: int = 100
    max_queued_inputs: int = 4
    max_messages_per_second: float = 40.0
    keyframe_interval: float = 5.0
    directory: str = 'memory'
    lease: float = 10.0
    #: Seconds without a state message from a room's owning worker after
    #: which the players relayed to it from this worker are told it stopped.
    owner_timeout: float = 2.0
    #: Seconds between two checkpoints of a room (0: no checkpoints).
    checkpoint_interval: float = 2.0
    #: What writes the JSON state messages: ``aiotao.json``, the setting the
    #: ``json`` renderer reads too (``orjson``: some ten times faster).
    json_library: str = 'json'

    @property
    def checkpoint_ttl(self) -> float:
        """How long a checkpoint is kept: until the players of a dead worker
        have noticed (a lease) and come back (a grace period), and more."""
        return 3 * self.lease + self.grace_period

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None) -> GameSettings:
        settings = settings or {}
        tick_rate = _number(settings, 'tick_rate', 20, 1, 240, 'ticks per second')
        return cls(
            rules=_rules(settings),
            tick_rate=tick_rate,
            grace_period=_number(settings, 'grace_period', 15, 0, 3600, 'seconds'),
            empty_timeout=_number(settings, 'empty_timeout', 2, 0, 3600, 'seconds'),
            bots=_integer(settings, 'bots', 3, 0, 63, 'bots'),
            max_rooms=_integer(settings, 'max_rooms', 100, 1, 100_000, 'rooms'),
            max_queued_inputs=_integer(
                settings, 'max_queued_inputs', 4, 1, 1000, 'inputs per player'
            ),
            max_messages_per_second=_number(
                settings,
                'max_messages_per_second',
                40,
                1,
                10_000,
                'messages per second per connection',
            ),
            keyframe_interval=_number(
                settings, 'keyframe_interval', 5, 0.1, 3600, 'seconds'
            ),
            directory=_directory(settings),
            lease=_number(settings, 'lease', 10, 1, 3600, 'seconds'),
            owner_timeout=_owner_timeout(settings, tick_rate),
            checkpoint_interval=_checkpoint_interval(settings, tick_rate),
            json_library=json_encoder(settings),
        )
