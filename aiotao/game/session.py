"""One game connection's session as a state machine: events in, actions out.

:class:`GameSession` holds what a connection is doing in the game — its
seat, the name it plays under, the room's state group it listens to, the
heartbeats it owes a room relayed from another worker — and decides what
happens on each event: a message received (``join``, ``input``,
``leave``), a seat taken, a heartbeat due, the room's owner fallen
silent, the room letting the player go, the connection closed.  It never
sees a socket, a group or a clock: the time is an argument, and what is
to be done comes back as :class:`Action`\\ s that the driver
(:class:`aiotao.game.connection.GameConnection`) performs, in order.  So
it is tested without a loop (``tests/game/test_session.py``), the way the
``websockets`` library tests its protocol core.

>>> from collections import namedtuple
>>> Seat = namedtuple('Seat', 'room_id player_id token')
>>> session = GameSession('c1', lease=3.0)
>>> session.join_requested(Join(mode='create'))
'create'
>>> session.player_name('  ana ')
'ana'
>>> session.watch('r1')
>>> session.seated(seat := Seat('r1', 'p1', 'r1.t'), now=0.0, relayed=True)
>>> [type(action).__name__ for action in session.actions_to_run()]
['JoinGroup', 'StartHeartbeat']
>>> session.heartbeat_due(now=1.0, owner_silent=False)
>>> session.actions_to_run()
[SendHeartbeat(seat=Seat(room_id='r1', player_id='p1', token='r1.t'))]
>>> session.heartbeat_due(now=1.5, owner_silent=True)   # its worker died
>>> [type(action).__name__ for action in session.actions_to_run()]
['LeaveGroup', 'ReleaseSeat', 'MoveOn']
>>> session.seat is None
True
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from aiotao.game.directory import RoomInfo
from aiotao.game.encoding import JSON, Encoding, state_group
from aiotao.game.errors import NotInRoom
from aiotao.game.names import random_name
from aiotao.game.protocol import Join, clean_name
from aiotao.game.relay import OWNER_LOST, moved
from aiotao.websocket.messages import MessageError

__all__ = [
    'Action',
    'GameSession',
    'HeldSeat',
    'JoinGroup',
    'JoinRoute',
    'LeaveGroup',
    'LeaveSeat',
    'MoveOn',
    'ReleaseSeat',
    'Send',
    'SendHeartbeat',
    'StartHeartbeat',
    'StopHeartbeat',
]

log = logging.getLogger(__name__)

#: How a ``join`` finds its room (:meth:`GameSession.join_requested`).
JoinRoute = Literal['rejoin', 'code', 'room', 'quick', 'create']

#: The keys of an owner's welcome passed on in the reply to ``join``.
WELCOME_KEYS = ('room', 'seat', 'token', 'code', 'worker', 'name')


class HeldSeat(Protocol):
    """A seat as the session holds it (the driver's seats do the I/O)."""

    @property
    def room_id(self) -> str: ...

    @property
    def token(self) -> str: ...


# -- actions: what the driver does, in the order given ------------------------


@dataclass(frozen=True, slots=True)
class Send:
    """Send ``text`` to the client (never waiting: a slow client is dropped)."""

    text: str


@dataclass(frozen=True, slots=True)
class JoinGroup:
    """Put the connection in ``group`` (a room's state group)."""

    group: str


@dataclass(frozen=True, slots=True)
class LeaveGroup:
    """Take the connection, and the room's owner watch if any, out of ``group``."""

    group: str


@dataclass(frozen=True, slots=True)
class StartHeartbeat:
    """Start telling the owner of ``seat``'s room that the player is here.

    The driver then calls :meth:`GameSession.heartbeat_due` every
    :meth:`GameSession.heartbeat_period` seconds until
    :attr:`GameSession.beating` is false.
    """

    seat: Any


@dataclass(frozen=True, slots=True)
class StopHeartbeat:
    """Stop the heartbeats (the seat is gone)."""


@dataclass(frozen=True, slots=True)
class SendHeartbeat:
    """Tell the owner of ``seat``'s room that its player is still here."""

    seat: Any


@dataclass(frozen=True, slots=True)
class LeaveSeat:
    """The player left: free ``seat`` in its room."""

    seat: Any


@dataclass(frozen=True, slots=True)
class ReleaseSeat:
    """The connection is gone: ``seat`` waits the grace period for a rejoin."""

    seat: Any


@dataclass(frozen=True, slots=True)
class MoveOn:
    """The room's worker stopped: back to the room resumed, or to its successor.

    ``template`` is the room as joined (its owner is the one lost).  Tell
    the session :meth:`~GameSession.moved` or
    :meth:`~GameSession.move_failed`.
    """

    room_id: str
    join: Join
    template: RoomInfo | None


Action = (
    Send
    | JoinGroup
    | LeaveGroup
    | StartHeartbeat
    | StopHeartbeat
    | SendHeartbeat
    | LeaveSeat
    | ReleaseSeat
    | MoveOn
)


class GameSession:
    """The state of one connection in the game, changed only by events.

    ``lease`` is ``aiotao.game.lease``: a relayed player's heartbeat goes
    every third of it.  Each event method queues the actions it calls
    for; :meth:`actions_to_run` hands them over.  Errors a client must
    hear (``already_in_room``, ``not_in_room``) are raised as
    :class:`~aiotao.websocket.messages.MessageError`\\ s, before any
    action is queued.
    """

    def __init__(
        self,
        id: str,
        *,
        lease: float,
        owner_timeout: float = 0.0,
        encoding: Encoding = JSON,
    ) -> None:
        self.id = id
        #: The encoding of the state messages, agreed at the handshake
        #: (:mod:`aiotao.game.encoding`).
        self.encoding = encoding
        self.lease = lease
        #: The seconds of silence after which a room's owner is lost (for the log).
        self.owner_timeout = owner_timeout
        #: The seat taken, while in a room.
        self.seat: Any = None
        #: The name this connection plays under (the last one asked for).
        self.name = ''
        #: The state group the connection is in.
        self.group: str | None = None
        #: The relayed room as joined: its owner is the one lost, should it fall silent.
        self.relayed_info: RoomInfo | None = None
        self._next_beat: float | None = None
        self._actions: list[Action] = []

    # -- the driver's side --------------------------------------------------

    def actions_to_run(self) -> list[Action]:
        """The actions the last events called for, in order (then forgotten)."""
        actions, self._actions = self._actions, []
        return actions

    @property
    def beating(self) -> bool:
        """Whether heartbeats are owed (a seat in a relayed room)."""
        return self._next_beat is not None

    def heartbeat_period(self, owner_timeout: float) -> float:
        """Seconds between two :meth:`heartbeat_due` calls.

        Often enough to beat every third of the lease and to notice a
        silent owner within a quarter of its timeout.
        """
        return min(self.lease / 3, owner_timeout / 4)

    # -- events ---------------------------------------------------------------

    def join_requested(self, message: Join) -> JoinRoute:
        """A ``join`` arrived: how to find its room (``already_in_room`` if seated).

        >>> GameSession('c1', lease=3).join_requested(Join(token='r1.abc'))
        'rejoin'
        """
        if self.seat is not None:
            raise MessageError('already_in_room', 'leave this room first')
        if message.token is not None:
            return 'rejoin'
        if message.mode == 'private' and message.code:
            return 'code'
        if message.room is not None:
            return 'room'
        if message.mode == 'quick':
            return 'quick'
        return 'create'

    def player_name(self, asked: str) -> str:
        """The name to play under: the one asked for, cleaned, or the last one.

        >>> session = GameSession('c1', lease=3)
        >>> session.player_name('ana'), session.player_name('')
        ('ana', 'ana')
        """
        self.name = clean_name(asked) or self.name or random_name()
        return self.name

    def watch(self, room_id: str) -> None:
        """Listen to ``room_id``'s state (before taking a seat there).

        The full snapshot sent for a join must find the connection in the
        group, so the group comes first.
        """
        self.stop_watching()
        self.group = state_group(room_id, self.encoding)
        self._actions.append(JoinGroup(self.group))

    def stop_watching(self) -> None:
        """Stop listening to a room's state (a join failed, or the seat is gone)."""
        if self.group is not None:
            group, self.group = self.group, None
            self._actions.append(LeaveGroup(group))

    def seated(
        self,
        seat: HeldSeat,
        now: float,
        *,
        relayed: bool = False,
        info: RoomInfo | None = None,
    ) -> None:
        """A seat was taken (``relayed``: in a room another worker owns, ``info``)."""
        self.seat = seat
        if relayed:
            self.relayed_info = info
            self._next_beat = now + self.lease / 3
            self._actions.append(StartHeartbeat(seat))

    @staticmethod
    def welcome_reply(welcome: dict[str, Any]) -> dict[str, Any]:
        """The reply to ``join``: the welcome's keys a client is told.

        >>> GameSession.welcome_reply({'type': 'welcome', 'room': 'r1', 'seat': 'p1'})
        {'room': 'r1', 'seat': 'p1'}
        """
        return {key: welcome[key] for key in WELCOME_KEYS if key in welcome}

    def input_received(self) -> Any:
        """An ``input`` arrived: the seat to submit it to (``not_in_room`` if none)."""
        if self.seat is None:
            raise NotInRoom('join a room first')
        return self.seat

    def leave_requested(self) -> dict[str, Any]:
        """A ``leave`` arrived: the reply (``not_in_room`` if not seated)."""
        seat = self.seat
        if seat is None:
            raise NotInRoom('you are not in a room')
        self.seat = None
        self._stop_heartbeat()
        self.stop_watching()
        self._actions.append(LeaveSeat(seat))
        return {'left': seat.room_id}

    def detached(self, room_id: str | None) -> bool:
        """The room let the player go (closed, or the seat taken over).

        ``False`` if the player was not in that room (any more): a late
        ``room_closed`` of a room already left is not passed on.
        """
        if self.seat is not None and room_id in (None, self.seat.room_id):
            self.seat = None
            self._stop_heartbeat()
            return True
        return False

    def heartbeat_due(self, now: float, *, owner_silent: bool) -> None:
        """Time for the heartbeat's check: beat if due; a silent owner is lost."""
        if self._next_beat is None:
            return
        if now >= self._next_beat:
            self._next_beat = now + self.lease / 3
            self._actions.append(SendHeartbeat(self.seat))
        if owner_silent:
            self._owner_lost()

    def _owner_lost(self) -> None:
        # the heartbeat ends here (the driver's loop sees beating is false)
        self._next_beat = None
        seat, self.seat = self.seat, None
        if seat is None:
            return
        log.warning(
            'game session %s: room %s fell silent for %g s: its worker stopped',
            self.id,
            seat.room_id,
            self.owner_timeout,
        )
        self.stop_watching()
        # if the owner only stalled, the seat waits for a rejoin there
        self._actions.append(ReleaseSeat(seat))
        # the owner lost is the one joined, whoever the directory names now
        # (another worker may have resumed the room just now)
        joined = self.relayed_info
        template = joined if joined is not None and joined.id == seat.room_id else None
        self._actions.append(
            MoveOn(seat.room_id, Join(token=seat.token, name=self.name), template)
        )

    def moved(self, room_id: str, successor: str) -> None:
        """Everyone in ``room_id`` went to ``successor``: tell the player."""
        self._actions.append(Send(json.dumps(moved(room_id, successor))))

    def move_failed(self, room_id: str) -> None:
        """No room could take the player of a lost room: it is closed."""
        closed = {'type': 'room_closed', 'room': room_id, 'reason': OWNER_LOST}
        self._actions.append(Send(json.dumps(closed)))

    def closed(self) -> None:
        """The connection closed: the seat waits for a reconnection."""
        seat, self.seat = self.seat, None
        self._stop_heartbeat()
        self.stop_watching()
        if seat is not None:
            self._actions.append(ReleaseSeat(seat))

    def _stop_heartbeat(self) -> None:
        if self._next_beat is not None:
            self._next_beat = None
            self._actions.append(StopHeartbeat())
