"""Several workers: a player connected to one worker plays in a room owned by another.

A room runs in one worker process, its owner (the :mod:`directory
<aiotao.game.directory>` says which).  A player whose websocket landed on
another worker is relayed through the application's group backend
(``aiotao.broadcast``: Redis or MongoDB), with three kinds of group:

* ``aiotao.game.state.<room>`` (:func:`aiotao.game.room.state_group`):
  the room's snapshots; every player's connection joins it, wherever it is;
* ``aiotao.game.control.<room>`` (:func:`control_group`): what players
  on other workers ask of the room (join, input, leave); the owner's
  :class:`ControlInbox` is its only member;
* ``aiotao.game.connection.<id>`` (:func:`connection_group`): the
  owner's answers to one relayed player (welcome, errors); the worker
  holding the connection reads them with a :class:`RelayedConnection`
  and passes them on.

Workers trust each other: the input a worker relays was checked there
against the rules' ``input_schema`` and is checked again by the owner.

A worker that dies cannot say that its players left: it says, every
third of ``aiotao.game.lease``, that they are still there (``alive``), and
the owner treats a relayed player not heard of for a whole lease as
disconnected (its seat then waits the grace period, as any other).

An owner that dies cannot say that its room closed either: the worker
holding a relayed player listens to the room's state (an
:class:`OwnerWatch` in the state group of the player's encoding, next to
the player's connection)
and, after ``aiotao.game.owner_timeout`` seconds without a tick (20 a
second), takes the room out of the directory and takes the player's
seat back in the room resumed from its last checkpoint, or moves it to
the room's fresh successor (:meth:`aiotao.game.lobby.Lobby.successor_of`),
where every other player of the dead room goes too, with a ``moved``
message saying why.

A resumed room keeps its id, so its state group too: a relayed player's
watch may hear the resumed room's ticks before it noticed the silence.
Its inputs and heartbeats carry its seat's token, and an owner hearing
them from a connection it does not know re-attaches that connection to
its seat (:class:`ControlInbox`), as a rejoin would.  A relayed join watches the same way: a room whose owner
stays silent while it waits for the welcome is lost (:exc:`OwnerLost`)
within the owner timeout, not after the whole :data:`JOIN_TIMEOUT`.

The requests in a control group are decoded by the pure
:func:`aiotao.game.relay_requests.decode_request`; the
:class:`ControlInbox` applies what it decoded, and logs and drops what it
could not.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from aiotao.game.errors import GameError, OwnerLost, RoomClosed
from aiotao.game.relay_requests import (
    Alive,
    BadRelayRequest,
    Disconnect,
    Input,
    Join,
    Leave,
    Rejoin,
    RelayRequest,
    Resync,
    decode_request,
)
from aiotao.game.room import Room
from aiotao.websocket.groups import Groups
from aiotao.websocket.messages import MessageError
from aiotao.websocket.schema import Schema

__all__ = [
    'ControlInbox',
    'OwnerWatch',
    'RelayedConnection',
    'RemoteLink',
    'RemoteSeat',
    'connection_group',
    'control_group',
    'moved',
]

log = logging.getLogger(__name__)

#: Seconds a relayed join waits for the owner's answer.
JOIN_TIMEOUT = 5.0
#: The ``reason`` of the ``room_closed`` a relayed player gets when the
#: room's worker fell silent and no other room could take its players.
OWNER_LOST = 'the server running this room stopped'
#: How often a relayed join looks whether the room's owner fell silent.
WATCH_PERIOD = 0.1
#: How often a relayed join asks the directory whether the room changed owner.
OWNER_CHECK_PERIOD = 0.5


def moved(room_id: str, successor: str) -> dict[str, str]:
    """The message telling a player its room's worker stopped, and where all went.

    >>> moved('r1', 'r2')['reason']
    'the server running room r1 stopped: everyone in it moved to room r2'
    """
    return {
        'type': 'moved',
        'from': room_id,
        'room': successor,
        'reason': f'the server running room {room_id} stopped: everyone in it '
        f'moved to room {successor}',
    }


def control_group(room_id: str) -> str:
    """The group of a room's owner: relayed joins, inputs and leaves.

    >>> control_group('r1')
    'aiotao.game.control.r1'
    """
    return f'aiotao.game.control.{room_id}'


def connection_group(connection_id: str) -> str:
    """The group of one relayed connection: the owner's answers to it.

    >>> connection_group('c1')
    'aiotao.game.connection.c1'
    """
    return f'aiotao.game.connection.{connection_id}'


class _Tasks:
    """Tasks started from synchronous group deliveries, awaited when closing."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coroutine: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks))


# -- the owner's side --------------------------------------------------------


class RemoteLink:
    """The :class:`~aiotao.game.room.PlayerLink` of a player on another worker."""

    def __init__(
        self,
        groups: Groups,
        connection_id: str,
        tasks: _Tasks,
        encoding: str | None = None,
    ) -> None:
        self.groups = groups
        self.connection_id = connection_id
        self._tasks = tasks
        #: What the player reads the state in, which the relaying worker's
        #: OwnerWatch listens to as well; ``None`` (unknown): every encoding.
        self.encoding = encoding

    async def send(self, text: str) -> None:
        await self.groups.broadcast(connection_group(self.connection_id), text)

    def detach(self) -> None:
        self._tasks.spawn(self.send(json.dumps({'type': 'detached'})))


class ControlInbox:
    """The owner's member of a room's control group: relayed requests to the room."""

    def __init__(
        self,
        room: Room,
        groups: Groups,
        changed: Callable[[Room], Awaitable[None]],
    ) -> None:
        self.room = room
        self.groups = groups
        self._changed = changed
        self._schema: Schema[Any] = Schema(room.rules.input_schema)
        self._links: dict[str, RemoteLink] = {}
        #: The seat of each relayed connection, and when it was last heard of.
        self._players: dict[str, str] = {}
        self._heard: dict[str, float] = {}
        #: Connections being re-attached to their seats (see the module doc).
        self._reattaching: set[str] = set()
        self._tasks = _Tasks()

    @property
    def is_open(self) -> bool:
        return not self.room.closed

    def send_nowait(self, data: str | bytes) -> bool:
        try:
            request = decode_request(data, self._schema)
        except BadRelayRequest as exc:
            log.warning('game room %s: bad relayed request: %s', self.room.id, exc)
            return True
        try:
            self._apply(request)
        except (ValueError, KeyError, TypeError, GameError) as exc:
            log.warning('game room %s: relayed request refused: %s', self.room.id, exc)
        return True

    def _apply(self, request: RelayRequest) -> None:
        """Apply one decoded request to the room (:mod:`aiotao.game.relay_requests`)."""
        if (
            isinstance(request, Input | Alive)
            and request.conn not in self._links
            and request.token is not None
        ):
            self._reattach(request.conn, request.token)
            return
        if request.conn in self._links:
            self._heard[request.conn] = asyncio.get_running_loop().time()
        match request:
            case Alive():
                pass  # (heard: that is all)
            case Resync():
                # the asking worker missed state messages (its broker
                # connection was down): deltas need the state before them
                self.room.resync()
            case Input(conn=conn, seat=player_id, input=input):
                # only from the connection holding the seat (not one it
                # was taken over from)
                seat = self.room.seats.get(player_id)
                link = self._links.get(conn)
                if seat is not None and link is not None and seat.link is link:
                    self.room.submit(seat.player.id, input)
            case Join() | Rejoin():
                self._tasks.spawn(self._join(request))
            case Leave(conn=conn, seat=player_id):
                seat = self.room.seats.get(player_id)
                link = self._forget(conn)
                if seat is not None and link is not None and seat.link is link:
                    self.room.leave(seat.player.id)
                    self._tasks.spawn(self._changed(self.room))
            case Disconnect(conn=conn, seat=player_id):
                link = self._forget(conn)
                if link is not None:
                    self.room.disconnect(player_id, link)

    async def _join(self, request: Join | Rejoin) -> None:
        connection = request.conn
        link = RemoteLink(self.groups, connection, self._tasks, request.encoding)
        # known before the welcome goes out: the player's first inputs
        # may arrive while the join is still being answered
        self._links[connection] = link
        self._heard[connection] = asyncio.get_running_loop().time()
        try:
            if isinstance(request, Rejoin):
                seat = await self.room.rejoin(request.token, link)
            else:
                seat = await self.room.join(request.name, link)
        except GameError as refused:
            self._forget(connection)
            # (the type last: as_json() has a type of its own, 'error')
            await link.send(json.dumps({**refused.as_json(), 'type': 'join_failed'}))
            return
        self._players[connection] = seat.player.id
        await self._changed(self.room)

    def _reattach(self, connection: str, token: str) -> None:
        """A connection whose seat this room holds, but not its link: re-attach it.

        (A player relayed to the room before it resumed here.)
        """
        if connection in self._reattaching:
            return
        self._reattaching.add(connection)

        async def reattach() -> None:
            try:
                await self._join(Rejoin(connection, token))
                if connection not in self._links:  # refused: no such seat here
                    closed = {
                        'type': 'room_closed',
                        'room': self.room.id,
                        'reason': 'your seat was not in the room when it resumed',
                    }
                    await self.groups.broadcast(
                        connection_group(connection), json.dumps(closed)
                    )
            finally:
                self._reattaching.discard(connection)

        self._tasks.spawn(reattach())

    def _forget(self, connection: str) -> RemoteLink | None:
        self._players.pop(connection, None)
        self._heard.pop(connection, None)
        return self._links.pop(connection, None)

    def drop_silent(self, timeout: float) -> list[str]:
        """Disconnect the relayed players not heard of for ``timeout`` seconds.

        Their worker sends ``alive`` regularly: silence means it is gone
        (killed, or cut off from the broker), and its players' seats go
        into their grace period as if their connections had dropped.
        Returns the seats disconnected.
        """
        now = asyncio.get_running_loop().time()
        dropped = []
        for connection, heard in list(self._heard.items()):
            if now - heard > timeout:
                player_id = self._players.get(connection)
                link = self._forget(connection)
                if player_id is not None and link is not None:
                    self.room.disconnect(player_id, link)
                    dropped.append(player_id)
        return dropped

    async def close(self) -> None:
        await self._tasks.close()


# -- the side of the worker holding the connection ---------------------------


class OwnerWatch:
    """This worker's member of a room's state group: is the room's owner alive?

    The owner broadcasts the room's state every tick, so a silence of
    ``timeout`` seconds (many ticks) means that its worker is gone: killed,
    or cut off from the broker.  ``clock`` is :func:`time.monotonic`
    unless a test gives its own.

    Silence proves nothing while *this* worker's broker connection is
    down (``connected()`` is false: a Redis failover, for every worker at
    once), so the watch does not count it, and :meth:`grace` gives the
    owner time to reconnect too once this worker has.

    >>> now = [0.0]
    >>> watch = OwnerWatch(timeout=2.0, clock=lambda: now[0])
    >>> now[0] = 1.5; watch.is_silent()
    False
    >>> watch.send_nowait('{"type": "delta", "tick": 31}')  # any message: a tick
    True
    >>> now[0] = 3.0; watch.is_silent()
    False
    >>> now[0] = 3.6; watch.is_silent()
    True
    """

    def __init__(
        self,
        timeout: float,
        clock: Callable[[], float] = time.monotonic,
        connected: Callable[[], bool] = lambda: True,
    ) -> None:
        self.timeout = timeout
        self._clock = clock
        self._connected = connected
        #: When the owner was last heard of (at first: when the watch began).
        self.heard_at = clock()

    @property
    def is_open(self) -> bool:
        return True

    def send_nowait(self, data: str | bytes) -> bool:
        # (not parsed: that a message came is all this needs, 20 times a second)
        self.heard_at = self._clock()
        return True

    def is_silent(self) -> bool:
        """``True`` once the owner has said nothing for ``timeout`` seconds."""
        if not self._connected():
            self.heard_at = self._clock()  # deaf, not silent
            return False
        return self._clock() - self.heard_at > self.timeout

    def grace(self, seconds: float) -> None:
        """Count the owner as heard of ``seconds`` from now (it may reconnect later than us)."""
        self.heard_at = max(self.heard_at, self._clock() + seconds)


class RelayedConnection:
    """This worker's member of a relayed player's connection group.

    Passes the owner's messages on to the websocket, and tells the session
    when the room let the player go (``detached``, which returns whether
    the player was still in that room: a ``room_closed`` of a room it has
    already left, told by its :class:`OwnerWatch`, is not passed on).
    """

    def __init__(self, ws: Any, detached: Callable[[str | None], bool]) -> None:
        self.ws = ws
        self._detached = detached
        self._answer: asyncio.Future[dict[str, Any]] | None = None

    @property
    def is_open(self) -> bool:
        return bool(self.ws.is_open)

    def send_nowait(self, data: str | bytes) -> bool:
        try:
            message = json.loads(data)
        except ValueError:
            return bool(self.ws.send_nowait(data))
        kind = message.get('type')
        answer = self._answer
        if kind in ('welcome', 'join_failed') and answer is not None:
            if not answer.done():
                answer.set_result(message)
            if kind == 'join_failed':
                return True
        elif kind == 'join_failed':
            return True  # (a re-attachment refused: a room_closed follows)
        elif kind == 'detached':
            self._detached(None)
            return True
        elif kind == 'room_closed':
            if not self._detached(message.get('room')):
                return True
        return bool(self.ws.send_nowait(data))

    async def request(
        self,
        groups: Groups,
        room_id: str,
        request: dict[str, Any],
        watch: OwnerWatch | None = None,
        owner_changed: Callable[[], Awaitable[bool]] | None = None,
    ) -> dict[str, Any]:
        """Send a join request to the room's owner and wait for its welcome.

        With ``watch`` (listening to the room's state), an owner silent for
        its timeout is lost (:exc:`OwnerLost`) without waiting longer.
        ``owner_changed`` is asked every :data:`OWNER_CHECK_PERIOD`: a room
        resumed by another worker meanwhile ticks in the same state group
        (the watch hears it), but the request went to its dead owner.
        """
        answer_future: asyncio.Future[dict[str, Any]]
        answer_future = self._answer = asyncio.get_running_loop().create_future()
        loop = asyncio.get_running_loop()
        next_check = loop.time() + OWNER_CHECK_PERIOD
        try:
            await groups.broadcast(control_group(room_id), json.dumps(request))
            async with asyncio.timeout(JOIN_TIMEOUT):
                while not answer_future.done():
                    await asyncio.wait([answer_future], timeout=WATCH_PERIOD)
                    if answer_future.done():
                        break
                    if watch is not None and watch.is_silent():
                        raise OwnerLost(
                            f'room {room_id} did not answer: its worker stopped'
                        )
                    if owner_changed is not None and loop.time() >= next_check:
                        next_check = loop.time() + OWNER_CHECK_PERIOD
                        if await owner_changed():
                            raise OwnerLost(
                                f'room {room_id} did not answer: it moved to '
                                f'another worker'
                            )
                answer = answer_future.result()
        except TimeoutError:
            raise RoomClosed(
                f'room {room_id} did not answer: its worker may be gone'
            ) from None
        finally:
            self._answer = None
        if answer['type'] == 'join_failed':
            raise MessageError(answer['code'], answer['message'])
        return answer


class RemoteSeat:
    """A seat in a room owned by another worker, as a session holds it."""

    def __init__(
        self,
        groups: Groups,
        room_id: str,
        player_id: str,
        connection_id: str,
        token: str,
    ) -> None:
        self.groups = groups
        self.room_id = room_id
        self.player_id = player_id
        self.connection_id = connection_id
        #: The seat's reconnection token (see :meth:`ControlInbox._reattach`).
        self.token = token

    async def _tell(self, op: str, **fields: Any) -> None:
        request = {'op': op, 'seat': self.player_id, 'conn': self.connection_id}
        await self.groups.broadcast(
            control_group(self.room_id), json.dumps({**request, **fields})
        )

    async def submit(self, input: Any) -> None:
        await self._tell('input', input=asdict(input), token=self.token)

    async def leave(self) -> None:
        await self._tell('leave')

    async def disconnect(self) -> None:
        await self._tell('disconnect')

    async def alive(self) -> None:
        """Tell the owner this connection is still there (see :meth:`ControlInbox.drop_silent`)."""
        await self._tell('alive', token=self.token)
