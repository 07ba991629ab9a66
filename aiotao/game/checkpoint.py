"""A room written down, so that another worker can resume it.

The worker owning a room writes a :class:`Checkpoint` of it to the room
directory's backend every ``aiotao.game.checkpoint_interval`` seconds:
the rules' own state (:meth:`~aiotao.game.rules.GameRules.checkpoint`),
the seats (player ids, names, reconnection tokens) and the tick number.
When that worker dies, the first worker to notice resumes the room from
it under the same room id, and its players take their seats back with
their tokens (:meth:`aiotao.game.lobby.Lobby.successor_of`): at most one
interval of play is lost.

A checkpoint comes from another process, maybe another version of the
code: :meth:`Checkpoint.from_json` checks every field and raises
:exc:`CheckpointError` saying what does not fit (malformed JSON, a
missing field, other rules, another ``checkpoint_version``), and the
room is then replaced by a fresh one instead of resumed.

>>> checkpoint = Checkpoint(room='r1', owner='w1', rules='myproject.arena.Arena',
...     version=1, tick=40, next_player=3, code=None, bots_yield=True,
...     seats=[SeatRecord('p1', 'ana', False, 'r1.secret')], state={'time': 2.0},
...     saved_at=1700000000.0)
>>> Checkpoint.from_json(checkpoint.to_json()) == checkpoint
True
>>> Checkpoint.from_json('{"room": "r1"}')
Traceback (most recent call last):
...
aiotao.game.checkpoint.CheckpointError: checkpoint of room r1: no field 'owner'
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

__all__ = ['FORMAT', 'Checkpoint', 'CheckpointError', 'SeatRecord', 'rules_name']

#: The version of the checkpoint's own layout (the rules' part has its own).
FORMAT = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be resumed: what is wrong with it."""


def rules_name(rules: type[Any]) -> str:
    """The name a checkpoint records its rules under.

    >>> from aiotao.game.rules import GameRules
    >>> rules_name(GameRules)
    'aiotao.game.rules.GameRules'
    """
    return f'{rules.__module__}.{rules.__qualname__}'


@dataclass(frozen=True, slots=True)
class SeatRecord:
    """A seat as a checkpoint keeps it."""

    id: str
    name: str
    bot: bool
    #: The reconnection token its player holds (``None`` for a bot).
    token: str | None


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One room, between two ticks; see the module documentation."""

    room: str
    #: The worker that wrote it (``Lobby.worker``).
    owner: str
    rules: str
    #: The rules' ``checkpoint_version``.
    version: int
    tick: int
    #: The number of the next player id (``p<n>``): never reused.
    next_player: int
    code: str | None
    bots_yield: bool
    seats: list[SeatRecord]
    #: :meth:`GameRules.checkpoint`'s data.
    state: dict[str, Any]
    #: When it was written (wall-clock seconds).
    saved_at: float = 0.0
    format: int = field(default=FORMAT)

    def to_json(self) -> str:
        # (not asdict(self): it deep-copies the rules' state, JSON-able
        # already, which cost 3 ms a room of 10 and stalled every room's
        # ticks while a worker wrote its checkpoints)
        data = {item.name: getattr(self, item.name) for item in fields(self)}
        data['seats'] = [asdict(seat) for seat in self.seats]
        return json.dumps(data, separators=(',', ':'))

    @classmethod
    def from_json(cls, text: str | bytes) -> Checkpoint:
        """Parse and check a checkpoint; :exc:`CheckpointError` if it does not fit."""
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CheckpointError(f'checkpoint is not JSON ({exc})') from None
        if not isinstance(data, dict):
            raise CheckpointError('checkpoint is not a JSON object')
        room = data.get('room')
        where = f'checkpoint of room {room}'
        if data.get('format', FORMAT) != FORMAT:
            raise CheckpointError(
                f'{where}: format {data.get("format")!r}, this code reads {FORMAT}'
            )
        kinds: dict[str, tuple[type, ...]] = {
            'room': (str,),
            'owner': (str,),
            'rules': (str,),
            'version': (int,),
            'tick': (int,),
            'next_player': (int,),
            'code': (str, type(None)),
            'bots_yield': (bool,),
            'seats': (list,),
            'state': (dict,),
            'saved_at': (int, float),
        }
        for name, types in kinds.items():
            if name not in data:
                raise CheckpointError(f'{where}: no field {name!r}')
            value = data[name]
            if not isinstance(value, types) or (
                int in types and isinstance(value, bool)
            ):
                raise CheckpointError(
                    f'{where}: {name} = {value!r} is of the wrong type'
                )
        seats = []
        for seat in data['seats']:
            try:
                record = SeatRecord(**seat)
            except TypeError:
                raise CheckpointError(f'{where}: a seat is {seat!r}') from None
            if not (
                isinstance(record.id, str)
                and isinstance(record.name, str)
                and isinstance(record.bot, bool)
                and (record.token is None or isinstance(record.token, str))
            ):
                raise CheckpointError(f'{where}: a seat is {seat!r}')
            seats.append(record)
        return cls(**{**{name: data[name] for name in kinds}, 'seats': seats})

    def check_rules(self, rules: type[Any]) -> None:
        """:exc:`CheckpointError` unless these ``rules`` (and version) wrote it."""
        name = rules_name(rules)
        if self.rules != name:
            raise CheckpointError(
                f'checkpoint of room {self.room}: written by {self.rules}, '
                f'this worker plays {name}'
            )
        version = rules.checkpoint_version
        if self.version != version:
            raise CheckpointError(
                f'checkpoint of room {self.room}: {name} checkpoint_version '
                f'{self.version}, this worker has version {version}'
            )
