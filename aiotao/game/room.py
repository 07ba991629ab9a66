"""One game room: seats, queued inputs, and the fixed-rate tick loop.

A room runs its :class:`~aiotao.game.rules.GameRules` in a task of its
own.  Every tick (``tick_rate`` per second, on absolute deadlines, so the
schedule does not drift) it:

1. frees the seats whose player did not come back within the grace period;
2. asks the bots for their inputs;
3. applies the queued inputs, each through ``rules.on_input``;
4. calls ``rules.step(dt)`` with the fixed ``dt = 1 / tick_rate``;
5. broadcasts what changed (``rules.delta``) to the room's state group,
   or the whole snapshot when a player arrived and every few seconds.

The rooms of a process tick at staggered moments of the period
(``phase``, set by the lobby), so that their work is spread over it
rather than piled up at one instant, where the last room would start late.
When each tick is due, and which were skipped after a stall, is the
socket-free :class:`~aiotao.game.clock.TickClock`'s business; the room
sleeps until the deadline it names, then does the tick's work.

Players talk to the room through a :class:`PlayerLink` (their own
messages: welcome, errors) and read the state from the group
:attr:`Room.state_group`, which their connections join.

**Isolation.**  Whatever the rules raise (in ``step``, ``on_input``,
``on_join``...) ends this room only: the error is logged, every player
gets ``{"type": "room_closed", "reason": ...}`` and is free to join
another room; other rooms run their own tasks and never notice.

**Seats.**  A player gets a token when it joins; a connection that drops
keeps its seat for ``grace_period`` seconds (the rules hear
``on_disconnect``, and ``on_reconnect`` if it comes back), and joining
with the token in that time takes the same seat back (same player id,
same score).  Names are unique in a room: a second "ana" is "ana 2".
Bots give their seats to people: a person joining a full room takes a
bot's seat, and in a room opened with ``bots_yield`` (quick play) each
person after the first sends one bot home.

**Checkpoints.**  :meth:`Room.checkpoint` writes the room down between
two ticks (:class:`~aiotao.game.checkpoint.Checkpoint`: seats, tokens,
tick, the rules' state); :meth:`Room.resume` makes a room of it on
another worker, every person's seat waiting for a reconnection (its
player away, as after a dropped connection) until its token comes back.

The room with a test's loop and a list as the broadcast::

    sent = []
    async def broadcast(group, text):
        sent.append(text)

    room = Room(Arena(random.Random(1)), id='r1', broadcast=broadcast)
    room.start()
    seat = await room.join('ana', link)
    room.submit(seat.player.id, ArenaInput(dx=1))
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aiotao.game.checkpoint import Checkpoint, SeatRecord, rules_name
from aiotao.game.clock import TickClock, Wakeup
from aiotao.game.encoding import Encodings
from aiotao.game.errors import BadToken, RoomClosed, RoomFull
from aiotao.game.metrics import TickMetrics
from aiotao.game.rules import GameRules, InvalidInput, Player

__all__ = ['PlayerLink', 'Room', 'Seat', 'state_group']

log = logging.getLogger(__name__)

#: ``broadcast(group, data)``: send ``data`` (JSON text, or MessagePack
#: bytes: :mod:`aiotao.game.encoding`) to every connection in ``group``.
Broadcast = Callable[[str, str | bytes], Awaitable[None]]


def state_group(room_id: str) -> str:
    """The group whose members get the room's state messages.

    >>> state_group('r1')
    'aiotao.game.state.r1'
    """
    return f'aiotao.game.state.{room_id}'


class PlayerLink(Protocol):
    """How a room reaches one player: its own messages, and its departure."""

    async def send(self, text: str) -> None:
        """Send ``text`` (a JSON message) to this player only; never waits long."""

    # (optional) ``encoding``: the name of the encoding this player reads
    # the state messages in (aiotao.game.encoding); absent: 'json'; None:
    # unknown (a relayed player), every encoding is sent

    def detach(self) -> None:
        """The room let this player go (it left, or the room closed)."""


@dataclass(eq=False, slots=True)
class Seat:
    """A player's place in the room, kept while it reconnects."""

    player: Player
    token: str
    link: PlayerLink | None
    inputs: deque[Any]
    #: When the connection dropped (the room's clock); ``None``: connected.
    disconnected_at: float | None = None
    #: Inputs dropped because the player sent faster than the room ticks.
    dropped_inputs: int = 0


class Room:
    """A room running ``rules``; see the module documentation."""

    def __init__(
        self,
        rules: GameRules[Any],
        *,
        id: str,
        broadcast: Broadcast,
        code: str | None = None,
        tick_rate: float = 20.0,
        grace_period: float = 10.0,
        empty_timeout: float = 2.0,
        max_queued_inputs: int = 4,
        keyframe_interval: float = 5.0,
        late_threshold: float = 0.005,
        phase: float = 0.0,
        welcome: Mapping[str, Any] | None = None,
        bots_yield: bool = False,
        json_library: str = 'json',
    ) -> None:
        self.rules = rules
        #: Each person after the first takes a bot's seat (quick play's rooms).
        self.bots_yield = bots_yield
        self.id = id
        #: The code a private room is joined with; ``None``: a public room.
        self.code = code
        self.tick_rate = tick_rate
        self.period = 1.0 / tick_rate
        #: Where in the period this room ticks (a fraction): the lobby
        #: staggers its rooms so that they do not all tick at the same moment.
        self.phase = phase % 1.0
        self.grace_period = grace_period
        self.empty_timeout = empty_timeout
        self.max_queued_inputs = max_queued_inputs
        self._keyframe_ticks = max(1, round(keyframe_interval * tick_rate))
        self._broadcast = broadcast
        self._encodings = Encodings(id, json_library)
        self._welcome = dict(welcome or {})
        self.metrics = TickMetrics(late_threshold)
        self.seats: dict[str, Seat] = {}
        self._tokens: dict[str, str] = {}
        self._next_player = 1
        self.tick = 0
        self._previous: dict[str, Any] | None = None
        self._full_needed = True
        self._empty_since: float | None = None
        self._failure: BaseException | None = None
        self.closed = False
        #: Why the room closed ('empty', 'failed', 'closed'), once it did.
        self.outcome: str | None = None
        self._task: asyncio.Task[str] | None = None
        self._close_reason = 'the server is shutting down'
        #: Set when the room resumed from a checkpoint: what its players
        #: are told when they take their seats back.
        self.resumed: str | None = None
        #: The seats of a resumed room whose players have not come back yet.
        self._awaited: set[str] = set()

    def __repr__(self) -> str:
        return f'<Room {self.id} {len(self.seats)}/{self.capacity} tick={self.tick}>'

    # -- what the lobby reads ----------------------------------------------

    @property
    def capacity(self) -> int:
        return self.rules.max_players

    @property
    def is_full(self) -> bool:
        return len(self.seats) >= self.capacity

    @property
    def humans(self) -> int:
        """Seats of people, connected or within their grace period."""
        return sum(1 for seat in self.seats.values() if not seat.player.bot)

    @property
    def online(self) -> int:
        """People whose connection is up (what a quick join looks for)."""
        return sum(
            1
            for seat in self.seats.values()
            if not seat.player.bot and seat.disconnected_at is None
        )

    @property
    def bots(self) -> int:
        return len(self.seats) - self.humans

    @property
    def state_group(self) -> str:
        return state_group(self.id)

    @property
    def task(self) -> asyncio.Task[str] | None:
        return self._task

    # -- seats -------------------------------------------------------------

    def _check_open(self) -> None:
        if self.closed or self._failure is not None:
            raise RoomClosed(f'room {self.id} is closed')

    def _call_rules(self, method: Callable[..., None], *args: Any) -> None:
        """Call the rules outside a tick; a failure ends the room, as in a tick."""
        try:
            method(*args)
        except Exception as exc:
            log.exception('game room %s: %s failed', self.id, method.__name__)
            self._failure = exc
            raise RoomClosed(
                f'room {self.id} stopped after an error in the game'
            ) from None

    def _unique_name(self, name: str) -> str:
        taken = {seat.player.name.casefold() for seat in self.seats.values()}
        if name.casefold() not in taken:
            return name
        for number in range(2, 1000):
            candidate = f'{name[:20].rstrip()} {number}'
            if candidate.casefold() not in taken:
                return candidate
        return f'{name[:12]} {secrets.token_hex(3)}'

    def _send_a_bot_home(self) -> bool:
        bot = next((s for s in self.seats.values() if s.player.bot), None)
        if bot is None:
            return False
        self.leave(bot.player.id)
        return True

    def _seat(self, name: str, link: PlayerLink | None, bot: bool) -> Seat:
        self._check_open()
        if (
            not bot
            and self.bots
            and (self.is_full or (self.bots_yield and self.humans >= 1))
        ):
            self._send_a_bot_home()
        if self.is_full:
            raise RoomFull(f'room {self.id} is full ({self.capacity} players)')
        name = self._unique_name(name)
        player = Player(f'p{self._next_player}', name, bot)
        self._next_player += 1
        token = f'{self.id}.{secrets.token_urlsafe(12)}'
        seat = Seat(player, token, link, deque(maxlen=self.max_queued_inputs))
        self._call_rules(self.rules.on_join, player)
        self.seats[player.id] = seat
        self._tokens[token] = player.id
        self._full_needed = True
        return seat

    async def join(self, name: str, link: PlayerLink) -> Seat:
        """Seat a new player; it gets a ``welcome`` message through ``link``."""
        seat = self._seat(name, link, bot=False)
        await link.send(self._welcome_message(seat, rejoined=False))
        return seat

    async def rejoin(self, token: str, link: PlayerLink) -> Seat:
        """Give the seat of ``token`` back, within the grace period."""
        self._check_open()
        player_id = self._tokens.get(token)
        seat = self.seats.get(player_id) if player_id else None
        if seat is None:
            raise BadToken(
                'this seat is gone (left, or not reclaimed within the grace period)'
            )
        old = seat.link
        seat.link = link
        if seat.disconnected_at is not None:
            seat.disconnected_at = None
            self._call_rules(self.rules.on_reconnect, seat.player)
        seat.inputs.clear()
        if old is not None and old is not link:
            old.detach()  # the same player on a new connection: the old one is stale
        self._full_needed = True
        await link.send(self._welcome_message(seat, rejoined=True))
        return seat

    def add_bots(self, count: int) -> list[Seat]:
        """Fill up to ``count`` seats with bots (fewer if the room fills)."""
        seats = []
        for _ in range(count):
            if self.is_full:
                break
            seats.append(self._seat(bot_name(self._next_player), None, bot=True))
        return seats

    def _welcome_message(self, seat: Seat, rejoined: bool) -> str:
        extra: dict[str, Any] = {}
        if rejoined and seat.player.id in self._awaited:
            self._awaited.discard(seat.player.id)
            extra['resumed'] = self.resumed
        return json.dumps(
            {
                **extra,
                'type': 'welcome',
                'room': self.id,
                'code': self.code,
                'seat': seat.player.id,
                'token': seat.token,
                'name': seat.player.name,
                'tick_rate': self.tick_rate,
                'rejoined': rejoined,
                **self._welcome,
            }
        )

    def resync(self) -> None:
        """Send the full state at the next tick, not a delta.

        For members who may have missed state messages (the broker
        carrying them to other workers failed over): a delta applies to
        the state before it, which they may not have.
        """
        self._full_needed = True

    def submit(self, player_id: str, input: Any) -> bool:
        """Queue a checked input for the next tick; ``False`` if no such seat.

        The queue is bounded: a player sending faster than the room ticks
        loses its oldest inputs, never the room's memory.
        """
        seat = self.seats.get(player_id)
        if seat is None or seat.disconnected_at is not None:
            return False
        if len(seat.inputs) == seat.inputs.maxlen:
            seat.dropped_inputs += 1
        seat.inputs.append(input)
        return True

    def disconnect(self, player_id: str, link: PlayerLink | None = None) -> None:
        """The player's connection dropped: keep the seat for the grace period.

        With ``link``, only if the seat is still that connection's (a player
        that already reconnected elsewhere keeps its new connection).
        """
        seat = self.seats.get(player_id)
        if seat is None or (link is not None and seat.link is not link):
            return
        seat.link = None
        was_connected = seat.disconnected_at is None
        seat.disconnected_at = asyncio.get_running_loop().time()
        seat.inputs.clear()
        if was_connected and not self.closed and self._failure is None:
            self._call_rules(self.rules.on_disconnect, seat.player)

    def leave(self, player_id: str) -> None:
        """The player left for good: free the seat now."""
        seat = self.seats.pop(player_id, None)
        if seat is None:
            return
        self._tokens.pop(seat.token, None)
        if seat.link is not None:
            seat.link.detach()
        if not self.closed and self._failure is None:
            self._call_rules(self.rules.on_leave, seat.player)

    # -- checkpoints -------------------------------------------------------

    def checkpoint(self, owner: str) -> Checkpoint:
        """The room as it is now (between two ticks), written by ``owner``.

        Raises :exc:`~aiotao.game.rules.NotCheckpointable` for rules that
        cannot write their state down.
        """
        state = self.rules.checkpoint()
        return Checkpoint(
            room=self.id,
            owner=owner,
            rules=rules_name(type(self.rules)),
            version=self.rules.checkpoint_version,
            tick=self.tick,
            next_player=self._next_player,
            code=self.code,
            bots_yield=self.bots_yield,
            seats=[
                SeatRecord(
                    seat.player.id,
                    seat.player.name,
                    seat.player.bot,
                    None if seat.player.bot else seat.token,
                )
                for seat in self.seats.values()
            ],
            state=state,
            saved_at=time.time(),
        )

    @classmethod
    def resume(
        cls, checkpoint: Checkpoint, rules: GameRules[Any], **options: Any
    ) -> Room:
        """A room of ``checkpoint`` with fresh ``rules`` (``options``: as for a new room).

        Anything the rules' :meth:`~aiotao.game.rules.GameRules.restore`
        raises is raised here, and no room is made.  Call it on the loop:
        the seats' grace periods start now.
        """
        checkpoint.check_rules(type(rules))
        rules.restore(checkpoint.state)
        room = cls(
            rules,
            id=checkpoint.room,
            code=checkpoint.code,
            bots_yield=checkpoint.bots_yield,
            **options,
        )
        room.tick = checkpoint.tick
        room._next_player = checkpoint.next_player
        now = asyncio.get_running_loop().time()
        for record in checkpoint.seats:
            player = Player(record.id, record.name, record.bot)
            token = record.token or f'{room.id}.{secrets.token_urlsafe(12)}'
            seat = Seat(player, token, None, deque(maxlen=room.max_queued_inputs))
            room.seats[player.id] = seat
            room._tokens[token] = player.id
            if not player.bot:
                # away until its player comes back with the token
                seat.disconnected_at = now
                room._awaited.add(player.id)
                rules.on_disconnect(player)
        return room

    # -- the loop ----------------------------------------------------------

    def start(self) -> asyncio.Task[str]:
        """Start the tick loop in a task (once)."""
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name=f'game room {self.id}')
        return self._task

    async def run(self) -> str:
        """Tick until the room is empty, fails or is closed; the outcome."""
        try:
            await self._loop()
            outcome, reason = 'empty', 'the room is empty'
        except asyncio.CancelledError:
            await self._shutdown('closed', self._close_reason)
            raise
        except Exception as exc:
            log.exception('game room %s failed; closing it', self.id)
            self._failure = exc
            outcome, reason = 'failed', f'the game stopped after an error ({exc!r})'
        await self._shutdown(outcome, reason)
        return outcome

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        clock = TickClock(self.period, self.phase, now=loop.time())
        while True:
            delay = clock.next_deadline() - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            woke = clock.woke(loop.time())
            self.metrics.skipped_ticks += woke.skipped
            await self._run_tick(woke)
            if self._is_abandoned(woke.started):
                return

    async def _run_tick(self, woke: Wakeup) -> None:
        """One tick: advance the rules, compute the state message, send it."""
        if self._failure is not None:
            raise self._failure
        # the tick's own work, timed apart from the awaits after it
        # (which let other rooms and connections run)
        work_started = time.perf_counter()
        outbox: list[tuple[PlayerLink, str]] = []
        self._tick(woke.started, outbox)
        states = self._state_message()
        self.metrics.record(woke.lateness, time.perf_counter() - work_started)
        for group, data in states:
            await self._broadcast(group, data)
        for link, text in outbox:
            await link.send(text)

    def _tick(self, now: float, outbox: list[tuple[PlayerLink, str]]) -> None:
        self.tick += 1
        for seat in list(self.seats.values()):
            if (
                seat.disconnected_at is not None
                and now - seat.disconnected_at > self.grace_period
            ):
                self.leave(seat.player.id)
        rules = self.rules
        for seat in self.seats.values():
            if seat.player.bot:
                bot_input = rules.bot_input(seat.player)
                if bot_input is not None:
                    seat.inputs.append(bot_input)
            while seat.inputs:
                try:
                    rules.on_input(seat.player, seat.inputs.popleft())
                except InvalidInput as refused:
                    if seat.link is not None:
                        outbox.append(
                            (seat.link, _error('invalid_input', str(refused)))
                        )
        rules.step(self.period)

    def _state_message(self) -> list[tuple[str, str | bytes]]:
        """This tick's state message, ``[(group, data)]`` per encoding in use."""
        current = self.rules.snapshot()
        keyframe = self.tick % self._keyframe_ticks == 0
        if self._previous is None or self._full_needed or keyframe:
            message: dict[str, Any] = {
                'type': 'snapshot',
                'tick': self.tick,
                'state': current,
            }
            self._full_needed = False
        else:
            patch = self.rules.delta(self._previous, current)
            message = {'type': 'delta', 'tick': self.tick, 'patch': patch}
        self._previous = current
        # -- encodings (issue 22): the message once per encoding in use
        readers: dict[str | None, int] = {}
        for seat in self.seats.values():
            if seat.link is not None:
                name = getattr(seat.link, 'encoding', 'json')
                readers[name] = readers.get(name, 0) + 1
        if not readers:
            return []
        states = []
        for name, group, data in self._encodings.encode(message, readers):
            # (a player of unknown encoding is counted as reading JSON)
            count = readers.get(name, 0) + (readers.get(None, 0) * (name == 'json'))
            self.metrics.bytes_sent += len(data) * count
            states.append((group, data))
        return states

    def _is_abandoned(self, now: float) -> bool:
        if self.humans:
            self._empty_since = None
            return False
        if self._empty_since is None:
            self._empty_since = now
        return now - self._empty_since >= self.empty_timeout

    # -- closing -----------------------------------------------------------

    async def _shutdown(self, outcome: str, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        self.outcome = outcome
        message = json.dumps({'type': 'room_closed', 'room': self.id, 'reason': reason})
        seats = list(self.seats.values())
        self.seats.clear()
        self._tokens.clear()
        for seat in seats:
            if seat.link is not None:
                try:
                    await seat.link.send(message)
                except Exception:  # one unreachable player must not stop the rest
                    log.exception('game room %s: telling a player it closed', self.id)
                seat.link.detach()

    async def close(self, reason: str = 'the room was closed') -> None:
        """Stop the loop (awaited: no task is left behind) and tell the players why."""
        self._close_reason = reason
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            # wait() does not re-raise the task's cancellation; our own does
            await asyncio.wait([task])
        await self._shutdown('closed', reason)


def bot_name(number: int) -> str:
    """A bot's name: says it is one.

    >>> bot_name(3)
    'bot 3'
    """
    return f'bot {number}'


def _error(code: str, message: str) -> str:
    return json.dumps({'type': 'error', 'code': code, 'message': message})
