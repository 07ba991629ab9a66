"""The game rules a user writes: a small class the room server drives.

A room owns one :class:`GameRules` object and calls it from its tick loop;
the rules never see a socket, so they are unit-tested by calling them::

    @dataclass
    class Move:
        dx: Annotated[float, Range(-1, 1)]
        dy: Annotated[float, Range(-1, 1)]

    class Walkers(GameRules[Move]):
        input_schema = Move
        max_players = 4

        def __init__(self, rng: random.Random) -> None:
            super().__init__(rng)
            self.positions: dict[str, list[float]] = {}
            self.intents: dict[str, Move] = {}

        def on_join(self, player: Player) -> None:
            self.positions[player.id] = [0.0, 0.0]

        def on_leave(self, player: Player) -> None:
            del self.positions[player.id]

        def on_input(self, player: Player, input: Move) -> None:
            self.intents[player.id] = input   # an intent, never a position

        def step(self, dt: float) -> None:
            for id, move in self.intents.items():
                self.positions[id][0] += move.dx * 100 * dt

        def snapshot(self) -> dict[str, Any]:
            return {'positions': self.positions}

**Authority.**  Clients send intents (a direction, a fire flag), which the
room checks against :attr:`GameRules.input_schema` before the rules see
them; the rules decide what an intent does (how far a player moves in
``dt``, whether the weapon has cooled down).  An input the schema accepts
but the rules refuse raises :exc:`InvalidInput`: that client gets an
``invalid_input`` error, the game goes on.

**Snapshots.**  :meth:`GameRules.snapshot` is the whole visible state, a
JSON-able dict; players get it in full when they join, then only what
changed (:meth:`GameRules.delta`, a JSON merge patch by default).

**Bots** are seats the server plays: :meth:`GameRules.bot_input` returns
the input a bot sends this tick, which goes through the same checks as a
human's.

**Checkpoints.**  A room whose worker dies resumes on another worker from
its last checkpoint (see :mod:`aiotao.game.checkpoint`) if its rules can
write their state down and read it back: :meth:`GameRules.checkpoint`
returns JSON-able data (everything :meth:`~GameRules.step` needs, not only
what players see), :meth:`GameRules.restore` takes it back into a fresh
instance.  Bump :attr:`GameRules.checkpoint_version` when that data
changes shape: a checkpoint of another version is not restored (the
room's players move to a fresh room instead).  Rules that implement
neither raise :exc:`NotCheckpointable`, and their rooms are replaced, not
resumed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from aiotao.game.patch import merge_diff

__all__ = ['GameRules', 'InvalidInput', 'NotCheckpointable', 'Player']

InputT = TypeVar('InputT')


class InvalidInput(Exception):
    """Raised by :meth:`GameRules.on_input`: the input is refused, the player told.

    >>> str(InvalidInput('you are dead'))
    'you are dead'
    """


class NotCheckpointable(TypeError):
    """The rules cannot write their state down (or read it back).

    >>> str(NotCheckpointable.of(GameRules))
    'aiotao.game.rules.GameRules does not implement checkpoint() and restore(): its rooms cannot resume on another worker (they are replaced by a fresh room)'
    """

    @classmethod
    def of(cls, rules: type[Any]) -> NotCheckpointable:
        return cls(
            f'{rules.__module__}.{rules.__qualname__} does not implement '
            f'checkpoint() and restore(): its rooms cannot resume on another '
            f'worker (they are replaced by a fresh room)'
        )


@dataclass(eq=False, slots=True)
class Player:
    """One seat of a room, as the rules see it.

    >>> Player('p1', 'ana')
    Player(id='p1', name='ana', bot=False)
    """

    #: Unique in the room, stable across reconnections.
    id: str
    #: What the player called itself (user text: render it escaped).
    name: str
    #: Played by the server.
    bot: bool = False


class GameRules(Generic[InputT]):
    """Base class of a game's rules; see the module documentation.

    ``rng`` is the room's random generator: use it (never the ``random``
    module) so that a test with a seeded generator is deterministic.
    """

    #: The dataclass an ``input`` message must match (see
    #: :mod:`aiotao.websocket.schema`: ``Annotated[float, Range(-1, 1)]``...).
    input_schema: ClassVar[type[Any]]
    #: Seats per room, bots included.
    max_players: ClassVar[int] = 8
    #: The shape of :meth:`checkpoint`'s data: a checkpoint written by
    #: another version is not given to :meth:`restore`.
    checkpoint_version: ClassVar[int] = 1

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def on_join(self, player: Player) -> None:
        """A player (or a bot) took a seat."""

    def on_leave(self, player: Player) -> None:
        """A player left, or did not come back within the grace period."""

    def on_disconnect(self, player: Player) -> None:
        """A player's connection dropped; its seat waits for the grace period."""

    def on_reconnect(self, player: Player) -> None:
        """A player whose connection dropped took its seat back."""

    def on_input(self, player: Player, input: InputT) -> None:
        """Apply one checked input of ``player``; raise :exc:`InvalidInput` to refuse it."""

    def step(self, dt: float) -> None:
        """Advance the game by ``dt`` seconds (one tick)."""

    def snapshot(self) -> dict[str, Any]:
        """The visible state, JSON-able; a new dict each call (it is kept)."""
        return {}

    def delta(
        self, previous: dict[str, Any], current: dict[str, Any]
    ) -> dict[str, Any]:
        """What changed since ``previous``: a JSON merge patch by default.

        Override it for a smarter encoding; return ``{}`` when nothing changed.
        """
        return merge_diff(previous, current)

    def bot_input(self, player: Player) -> InputT | None:
        """The input the bot ``player`` sends this tick (``None``: nothing)."""
        return None

    # -- checkpoints (optional) --------------------------------------------

    @classmethod
    def can_checkpoint(cls) -> bool:
        """Whether these rules override :meth:`checkpoint` and :meth:`restore`.

        >>> GameRules.can_checkpoint()
        False
        """
        return (
            cls.checkpoint is not GameRules.checkpoint
            and cls.restore is not GameRules.restore
        )

    def checkpoint(self) -> dict[str, Any]:
        """The whole game state, JSON-able, for :meth:`restore` on another worker.

        Called between two ticks.  Raises :exc:`NotCheckpointable` unless
        overridden.
        """
        raise NotCheckpointable.of(type(self))

    def restore(self, state: dict[str, Any]) -> None:
        """Take back the state :meth:`checkpoint` returned, in a fresh instance.

        The seats are the checkpoint's: :meth:`on_join` is not called
        again.  Raise anything (``KeyError``, ``ValueError``...) for data
        that does not fit: the room then starts afresh, and says why.
        """
        raise NotCheckpointable.of(type(self))
