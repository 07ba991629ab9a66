"""The game's websocket protocol: join a room, send inputs, leave.

Built on :class:`~aiotao.websocket.messages.MessageRouter`, so malformed
messages get an error and the connection stays open, and a client
flooding past ``aiotao.game.max_messages_per_second`` is closed with 1008.

Client to server::

    {"type": "join", "mode": "quick"}                 # the room with most people online, or a new one
    {"type": "join", "mode": "create", "bots": 3}     # a new public room with 3 bots
    {"type": "join", "mode": "private"}               # a new private room (its code in the welcome)
    {"type": "join", "mode": "private", "code": "K7QX2"}
    {"type": "join", "room": "3f2a9c1d"}              # that public room (a shared link)
    {"type": "join", "token": "..."}                  # back to my seat after a reconnection
    {"type": "input", "dx": 1, "dy": 0, "aim": 0.5, "fire": true, "seq": 12}
    {"type": "leave"}

(``join`` also takes ``name``, made unique in the room, and made up when
empty; an ``id`` on any message gets a reply.)

When the worker running a room dies, another worker resumes it from its
last checkpoint (same room id, same seats, scores as they were then):
its players, on every worker, get their seats back with a ``welcome``
whose ``rejoined`` is true and ``resumed`` says what happened, relayed
players by themselves and players of the dead worker when their page
reconnects with its token.  A room that cannot resume (no checkpoint,
rules that cannot write one, a corrupt one) is replaced: its players
are moved together to one new room, each getting ``moved``, then the new
room's ``welcome``.

Server to client::

    {"type": "hello", "worker": 4242, "tick_rate": 20, ...}     # on connect
    {"type": "welcome", "room": "...", "seat": "p3", "token": "...", "code": null, ...}
    {"type": "welcome", ..., "rejoined": true, "resumed": "..."}  # after a failover
    {"type": "snapshot", "tick": 120, "state": {...}}    # the whole state
    {"type": "delta", "tick": 121, "patch": {...}}       # what changed (JSON merge patch)
    {"type": "room_closed", "room": "...", "reason": "..."}
    {"type": "moved", "from": "...", "room": "...", "reason": "..."}  # its worker died: all moved
    {"type": "error", "code": "invalid" | "not_in_room" | "room_full" | ..., "message": "..."}

The view, in an application that includes ``aiotao.game``::

    config.add_route('game', '/game/ws')
    config.add_view(serve_game, route_name='game', mapper=WebsocketMapper)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from aiotao.game.directory import RoomInfo
from aiotao.game.encoding import encoding_of, json_state_group
from aiotao.game.encoding import state_group as encoded_state_group
from aiotao.game.errors import (
    BadToken,
    GameError,
    NoSuchRoom,
    NotInRoom,
    OwnerLost,
    RoomClosed,
    RoomFull,
)
from aiotao.game.lobby import Lobby
from aiotao.game.names import random_name
from aiotao.game.relay import (
    OWNER_LOST,
    OwnerWatch,
    RelayedConnection,
    RemoteSeat,
    connection_group,
    moved,
)
from aiotao.game.room import Room, state_group
from aiotao.websocket.messages import MessageError, MessageRouter
from aiotao.websocket.ratelimit import RateLimit
from aiotao.websocket.schema import Length, Range

__all__ = ['GameSession', 'Join', 'Leave', 'make_router']

log = logging.getLogger(__name__)

#: Longest player name kept.
MAX_NAME = 24


@dataclass
class Join:
    """The ``join`` message."""

    mode: Literal['quick', 'create', 'private'] = 'quick'
    #: A private room's code (``mode: private``).
    code: Annotated[str, Length(1, 12)] | None = None
    name: Annotated[str, Length(0, MAX_NAME)] = ''
    #: The seat token of a welcome: take that seat back.
    token: Annotated[str, Length(1, 120)] | None = None
    #: Bots in a room this join opens.
    bots: Annotated[int, Range(0, 63)] = 0
    #: A public room's id: join that one (a link a player shared).
    room: Annotated[str, Length(1, 40)] | None = None


@dataclass
class Leave:
    """The ``leave`` message (no fields)."""


def clean_name(name: str) -> str:
    """A player name without control characters (it is still user text).

    >>> clean_name(' ana\\x00\\n ')
    'ana'
    """
    return ''.join(ch for ch in name if ch.isprintable()).strip()[:MAX_NAME]


class LocalLink:
    """The :class:`~aiotao.game.room.PlayerLink` of a connection on this worker."""

    def __init__(self, session: GameSession, room_id: str) -> None:
        self.session = session
        self.room_id = room_id
        #: (issue 22) the encoding this player reads the room's state in
        self.encoding = session.encoding.name

    async def send(self, text: str) -> None:
        # never waits: a player too slow to read is dropped by its connection
        self.session.ws.send_nowait(text)

    def detach(self) -> None:
        self.session.detached(self.room_id)


class LocalSeat:
    """A seat in a room this worker owns, as a session holds it."""

    def __init__(
        self, lobby: Lobby, room: Room, player_id: str, link: LocalLink, token: str
    ) -> None:
        self.lobby = lobby
        self.room = room
        self.room_id = room.id
        self.player_id = player_id
        self.link = link
        self.token = token

    async def submit(self, input: Any) -> None:
        if not self.room.submit(self.player_id, input):
            raise NotInRoom('your seat is gone: join a room again')

    async def leave(self) -> None:
        self.room.leave(self.player_id)
        await self.lobby.publish(self.room)

    async def disconnect(self) -> None:
        self.room.disconnect(self.player_id, self.link)


class GameSession:
    """One websocket connection's part in the game: the target of the handlers."""

    def __init__(self, ws: Any, lobby: Lobby) -> None:
        self.ws = ws
        self.lobby = lobby
        self.id = secrets.token_hex(8)
        self.seat: LocalSeat | RemoteSeat | None = None
        self._group: str | None = None
        #: Listens to the state group next to the connection, in a relayed room.
        self._owner_watch: OwnerWatch | None = None
        self._relay: RelayedConnection | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._relayed_info: RoomInfo | None = None
        #: The name this connection plays under (the last one asked for).
        self.name = ''
        #: (issue 22) the encoding of the state messages, by the subprotocol
        self.encoding = encoding_of(getattr(ws, 'subprotocol', None))

    def detached(self, room_id: str | None) -> bool:
        """The room let this connection's player go (closed, or seat taken over).

        ``False`` if the player was not in that room (any more).
        """
        if self.seat is not None and room_id in (None, self.seat.room_id):
            self.seat = None
            self._stop_heartbeat()
            return True
        return False

    def _stop_heartbeat(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None

    async def _keep_relayed(self, seat: RemoteSeat, watch: OwnerWatch) -> None:
        """Tell the room's owner, every third of a lease, that this player is
        here; and the player, if the owner falls silent, that the room closed."""
        loop = asyncio.get_running_loop()
        beat = self.lobby.settings.lease / 3
        next_beat = loop.time() + beat
        while not watch.is_silent():
            await asyncio.sleep(min(beat, watch.timeout / 4))
            if loop.time() >= next_beat:
                next_beat = loop.time() + beat
                try:
                    await seat.alive()
                except Exception:  # the broker is away: the next beat may pass
                    log.warning('game session %s: heartbeat not sent', self.id)
        await self._owner_lost(seat)

    async def _owner_lost(self, seat: RemoteSeat) -> None:
        # run by the heartbeat task itself, which ends here: not cancelled
        self._heartbeat = None
        if self.seat is not seat:
            return
        self.seat = None
        await self._stop_watching()
        log.warning(
            'game session %s: room %s fell silent for %g s: its worker stopped',
            self.id,
            seat.room_id,
            self.lobby.settings.owner_timeout,
        )
        try:
            # if the owner only stalled, the seat waits for a rejoin there
            await seat.disconnect()
        except Exception:  # the broker is away: the owner stops hearing heartbeats
            log.exception('game session %s: releasing a silent room', self.id)
        try:
            # the owner lost is the one joined, whoever the directory names
            # now (another worker may have resumed the room just now)
            joined = self._relayed_info
            template = (
                joined if joined is not None and joined.id == seat.room_id else None
            )
            await self._move_on(
                seat.room_id, Join(token=seat.token, name=self.name), template
            )
        except (GameError, OSError) as exc:
            log.warning('game session %s: no room to move to: %s', self.id, exc)
            self.ws.send_nowait(
                json.dumps(
                    {'type': 'room_closed', 'room': seat.room_id, 'reason': OWNER_LOST}
                )
            )

    async def _move_on(
        self, room_id: str, message: Join, template: RoomInfo | None = None
    ) -> dict[str, Any]:
        """Back to ``room_id`` resumed, or to its successor: its worker stopped."""
        with contextlib.suppress(Exception):  # the lease expires it anyway
            template = template or await self.lobby.directory.get(room_id)
            if template is not None:
                await self.lobby.forget(room_id, template.owner)
        successor = await self.lobby.successor_of(room_id, template)
        fresh = Join(name=message.name or self.name)
        if successor.id == room_id:  # resumed from its checkpoint
            if message.token is not None:
                try:
                    return await self._take_seat(successor, message)
                except BadToken:
                    pass  # seated after the last checkpoint: a seat anew
            return await self._take_seat(successor, fresh)
        self.ws.send_nowait(json.dumps(moved(room_id, successor.id)))
        return await self._take_seat(successor, fresh)

    async def _watch_state(self, room_id: str) -> None:
        await self._stop_watching()
        self._group = encoded_state_group(room_id, self.encoding)  # (issue 22)
        await self.ws.join(self._group)

    async def _stop_watching(self) -> None:
        watch, self._owner_watch = self._owner_watch, None
        if self._group is not None:
            group, self._group = self._group, None
            if watch is not None:  # (in the JSON group: issue 22)
                await self.lobby.groups.leave(json_state_group(group), watch)
            await self.ws.leave(group)

    async def join(self, message: Join) -> dict[str, Any]:
        if self.seat is not None:
            raise MessageError('already_in_room', 'leave this room first')
        lobby = self.lobby
        if message.token is not None:
            return await self._rejoin(message)
        if message.mode == 'private' and message.code:
            return await self._take_seat(await lobby.by_code(message.code), message)
        if message.room is not None:
            info = await lobby.get(message.room)
            if info.code is not None:  # a private room is joined by its code
                raise NoSuchRoom(f'room {message.room[:16]!r} is closed')
            return await self._take_seat(info, message)
        if message.mode == 'quick':
            match = await lobby.quick_match()
            if match is not None:
                try:
                    return await self._take_seat(match, message)
                except OwnerLost:
                    with contextlib.suppress(Exception):
                        await lobby.forget(match.id, match.owner)
                except (RoomFull, NoSuchRoom, RoomClosed):
                    pass  # filled up, or ended: open a room instead
            room = await lobby.create(bots=lobby.settings.bots, bots_yield=True)
        else:
            room = await lobby.create(
                private=message.mode == 'private', bots=message.bots
            )
        return await self._take_seat(lobby.info(room), message)

    async def _rejoin(self, message: Join) -> dict[str, Any]:
        """Back to the seat of ``message.token``, or to its room's successor."""
        assert message.token is not None
        room_id = message.token.split('.', 1)[0]
        try:
            info = await self.lobby.get(room_id)
        except NoSuchRoom:
            if not await self.lobby.can_recover(room_id):
                raise
            return await self._move_on(room_id, message)
        try:
            return await self._take_seat(info, message)
        except OwnerLost:
            return await self._move_on(room_id, message, info)

    async def _take_seat(self, info: RoomInfo, message: Join) -> dict[str, Any]:
        name = clean_name(message.name) or self.name or random_name()
        self.name = name
        # the state group first: the full snapshot sent for this join must
        # find the connection in it
        await self._watch_state(info.id)
        try:
            if self.lobby.owns(info):
                welcome = await self._take_local_seat(info, message, name)
            elif info.owner == self.lobby.worker:
                raise NoSuchRoom(f'room {info.id} is closed')  # (ended just now)
            else:
                welcome = await self._take_remote_seat(info, message, name)
        except BaseException:
            await self._stop_watching()
            raise
        return {
            key: welcome[key]
            for key in ('room', 'seat', 'token', 'code', 'worker', 'name')
            if key in welcome
        }

    async def _take_local_seat(
        self, info: RoomInfo, message: Join, name: str
    ) -> dict[str, Any]:
        room = self.lobby.rooms[info.id]
        link = LocalLink(self, room.id)
        if message.token is not None:
            seat = await room.rejoin(message.token, link)
        else:
            seat = await room.join(name, link)
        self.seat = LocalSeat(self.lobby, room, seat.player.id, link, seat.token)
        await self.lobby.publish(room)
        return {
            'room': room.id,
            'seat': seat.player.id,
            'token': seat.token,
            'code': room.code,
            'worker': os.getpid(),
            'name': seat.player.name,
        }

    async def _take_remote_seat(
        self, info: RoomInfo, message: Join, name: str
    ) -> dict[str, Any]:
        groups = self.lobby.groups
        if self._relay is None:
            self._relay = RelayedConnection(self.ws, self.detached)
            await groups.join(connection_group(self.id), self._relay)
        request: dict[str, Any] = {'conn': self.id}
        if message.token is not None:
            request.update(op='rejoin', token=message.token)
        else:
            request.update(op='join', name=name)
        # listening to the room from the start: a silent owner is lost
        # within its timeout, the join does not wait for nothing
        watch = OwnerWatch(
            self.lobby.settings.owner_timeout, connected=self.lobby.broker_connected
        )
        await groups.join(state_group(info.id), watch)

        async def owner_changed() -> bool:
            now = await self.lobby.directory.get(info.id)
            return now is not None and now.owner != info.owner

        try:
            welcome = await self._relay.request(
                groups, info.id, request, watch, owner_changed
            )
        except BaseException:
            await groups.leave(state_group(info.id), watch)
            raise
        self._owner_watch = watch
        seat = self.seat = RemoteSeat(
            groups, info.id, welcome['seat'], self.id, welcome['token']
        )
        #: (the room as joined: its owner is the one lost, should it fall silent)
        self._relayed_info = info
        self._heartbeat = asyncio.create_task(
            self._keep_relayed(seat, watch), name=f'game session {self.id} heartbeat'
        )
        return welcome

    async def input(self, message: Any) -> None:
        if self.seat is None:
            raise NotInRoom('join a room first')
        await self.seat.submit(message)

    async def leave(self) -> dict[str, Any]:
        seat = self.seat
        if seat is None:
            raise NotInRoom('you are not in a room')
        self.seat = None
        self._stop_heartbeat()
        await self._stop_watching()
        await seat.leave()
        return {'left': seat.room_id}

    async def closed(self) -> None:
        """The connection closed: the seat waits for a reconnection."""
        seat, self.seat = self.seat, None
        self._stop_heartbeat()
        try:
            await self._stop_watching()
            if seat is not None:
                await seat.disconnect()
            if self._relay is not None:
                await self.lobby.groups.leave(connection_group(self.id), self._relay)
        except Exception:  # the broker is gone: the owner stops hearing heartbeats
            log.exception('game session %s: releasing its seat', self.id)


async def _on_join(session: GameSession, message: Join) -> dict[str, Any]:
    return await session.join(message)


async def _on_input(session: GameSession, message: Any) -> None:
    await session.input(message)


async def _on_leave(session: GameSession, message: Leave) -> dict[str, Any]:
    return await session.leave()


def make_router(
    input_schema: type[Any], max_messages_per_second: float
) -> MessageRouter:
    """The protocol's router, checking inputs against the rules' ``input_schema``."""
    router = MessageRouter(
        rate_limit=RateLimit(
            rate=max_messages_per_second,
            burst=max(1, int(max_messages_per_second)),
            # a game client sends at its frame rate, never a burst of
            # refused messages: a short tolerance before 1008
            close_after=10,
        )
    )
    router.add('join', _on_join, schema=Join)
    router.add('input', _on_input, schema=input_schema)
    router.add('leave', _on_leave, schema=Leave)
    return router


async def serve_session(router: MessageRouter, session: GameSession) -> None:
    """Serve one connection until it closes, then release its seat for the grace period."""
    try:
        await router.serve(session.ws, session)
    finally:
        # shielded: a cancelled view (server shutdown) still lets the room know
        await asyncio.shield(session.closed())
