"""The driver of a game connection's session: the websocket, groups and timers.

:class:`GameConnection` serves one websocket with the router of
:mod:`aiotao.game.protocol`: it asks the lobby for rooms and seats (the
directory, the rooms, the relay to other workers are all I/O), tells the
socket-free :class:`~aiotao.game.session.GameSession` what happened, and
performs the actions it calls for — sending to the client, joining and
leaving groups, heartbeats to a relayed room's owner, releasing a seat,
moving to a lost room's successor.  What the session decides is in
:mod:`aiotao.game.session`; this module only moves bytes and waits.

::

    connection = GameConnection(ws, lobby)
    await serve_connection(router, connection)   # until the client leaves
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from typing import Any

from aiotao.game.directory import RoomInfo
from aiotao.game.encoding import encoding_of, state_group
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
from aiotao.game.protocol import Join
from aiotao.game.relay import (
    OwnerWatch,
    RelayedConnection,
    RemoteSeat,
    connection_group,
)
from aiotao.game.room import Room
from aiotao.game.session import (
    Action,
    GameSession,
    JoinGroup,
    LeaveGroup,
    LeaveSeat,
    MoveOn,
    ReleaseSeat,
    Send,
    SendHeartbeat,
    StartHeartbeat,
    StopHeartbeat,
)
from aiotao.websocket.messages import MessageRouter

__all__ = ['GameConnection', 'LocalLink', 'LocalSeat', 'serve_connection']

log = logging.getLogger(__name__)


class LocalLink:
    """The :class:`~aiotao.game.room.PlayerLink` of a connection on this worker."""

    def __init__(self, connection: GameConnection, room_id: str) -> None:
        self.connection = connection
        self.room_id = room_id
        #: The encoding this player reads the room's state in.
        self.encoding = connection.session.encoding.name

    async def send(self, text: str) -> None:
        # never waits: a player too slow to read is dropped by its connection
        self.connection.ws.send_nowait(text)

    def detach(self) -> None:
        self.connection.detached(self.room_id)


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


class GameConnection:
    """One websocket connection's part in the game: the target of the handlers."""

    def __init__(self, ws: Any, lobby: Lobby) -> None:
        self.ws = ws
        self.lobby = lobby
        self.id = secrets.token_hex(8)
        self.session = GameSession(
            self.id,
            lease=lobby.settings.lease,
            owner_timeout=lobby.settings.owner_timeout,
            encoding=encoding_of(getattr(ws, 'subprotocol', None)),
        )
        #: Listens to the state group next to the connection, in a relayed room.
        self._owner_watch: OwnerWatch | None = None
        self._relay: RelayedConnection | None = None
        self._heartbeat: asyncio.Task[None] | None = None

    @property
    def seat(self) -> LocalSeat | RemoteSeat | None:
        """The seat taken, while in a room."""
        return self.session.seat  # type: ignore[no-any-return]

    @property
    def name(self) -> str:
        """The name this connection plays under (the last one asked for)."""
        return self.session.name

    # -- performing the session's actions ----------------------------------

    def _run_now(self, action: Action) -> bool:
        """Perform an action that needs no wait; ``False`` if it needs one."""
        if isinstance(action, Send):
            self.ws.send_nowait(action.text)
        elif isinstance(action, StartHeartbeat):
            assert self._owner_watch is not None  # (set by the relayed join)
            self._heartbeat = asyncio.create_task(
                self._keep_relayed(self._owner_watch),
                name=f'game session {self.id} heartbeat',
            )
        elif isinstance(action, StopHeartbeat):
            task, self._heartbeat = self._heartbeat, None
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        else:
            return False
        return True

    async def _run(self) -> None:
        """Perform the actions the session called for, in order."""
        for action in self.session.actions_to_run():
            if self._run_now(action):
                continue
            if isinstance(action, JoinGroup):
                await self.ws.join(action.group)
            elif isinstance(action, LeaveGroup):
                watch, self._owner_watch = self._owner_watch, None
                if watch is not None:  # (it listens to the player's group)
                    await self.lobby.groups.leave(action.group, watch)
                await self.ws.leave(action.group)
            elif isinstance(action, SendHeartbeat):
                try:
                    await action.seat.alive()
                except Exception:  # the broker is away: the next beat may pass
                    log.warning('game session %s: heartbeat not sent', self.id)
            elif isinstance(action, LeaveSeat):
                await action.seat.leave()
            elif isinstance(action, ReleaseSeat):
                try:
                    await action.seat.disconnect()
                except (
                    Exception
                ):  # the broker is away: the owner stops hearing heartbeats
                    log.exception(
                        'game session %s: releasing its seat in room %s',
                        self.id,
                        action.seat.room_id,
                    )
            elif isinstance(action, MoveOn):
                await self._move_after_loss(action)

    def detached(self, room_id: str | None) -> bool:
        """The room let this connection's player go (closed, or seat taken over).

        ``False`` if the player was not in that room (any more).
        """
        let_go = self.session.detached(room_id)
        for action in self.session.actions_to_run():  # (a StopHeartbeat at most)
            self._run_now(action)
        return let_go

    # -- relayed rooms: heartbeats, and a silent owner -----------------------

    async def _keep_relayed(self, watch: OwnerWatch) -> None:
        """Tell the room's owner, every third of a lease, that this player is
        here; and the player, if the owner falls silent, that the room closed."""
        loop = asyncio.get_running_loop()
        period = self.session.heartbeat_period(watch.timeout)
        while True:
            await asyncio.sleep(period)
            self.session.heartbeat_due(loop.time(), owner_silent=watch.is_silent())
            if not self.session.beating:
                # the owner is lost: this task moves the player on and ends
                # (not cancelled, though the player may be relayed again)
                self._heartbeat = None
                await self._run()
                return
            await self._run()

    async def _move_after_loss(self, action: MoveOn) -> None:
        try:
            await self._move_on(action.room_id, action.join, action.template)
        except (GameError, OSError) as exc:
            log.warning('game session %s: no room to move to: %s', self.id, exc)
            self.session.move_failed(action.room_id)
            await self._run()

    async def _move_on(
        self, room_id: str, message: Join, template: RoomInfo | None = None
    ) -> dict[str, Any]:
        """Back to ``room_id`` resumed, or to its successor: its worker stopped."""
        with contextlib.suppress(Exception):  # the lease expires it anyway
            template = template or await self.lobby.directory.get(room_id)
            if template is not None:
                await self.lobby.forget(room_id, template.owner)
        successor = await self.lobby.successor_of(room_id, template)
        fresh = Join(name=message.name or self.session.name)
        if successor.id == room_id:  # resumed from its checkpoint
            if message.token is not None:
                try:
                    return await self._take_seat(successor, message)
                except BadToken:
                    pass  # seated after the last checkpoint: a seat anew
            return await self._take_seat(successor, fresh)
        self.session.moved(room_id, successor.id)
        await self._run()
        return await self._take_seat(successor, fresh)

    # -- the messages --------------------------------------------------------

    async def join(self, message: Join) -> dict[str, Any]:
        lobby = self.lobby
        route = self.session.join_requested(message)
        if route == 'rejoin':
            return await self._rejoin(message)
        if route == 'code':
            assert message.code is not None
            return await self._take_seat(await lobby.by_code(message.code), message)
        if route == 'room':
            assert message.room is not None
            info = await lobby.get(message.room)
            if info.code is not None:  # a private room is joined by its code
                raise NoSuchRoom(f'room {message.room[:16]!r} is closed')
            return await self._take_seat(info, message)
        if route == 'quick':
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
        name = self.session.player_name(message.name)
        self.session.watch(info.id)
        await self._run()
        try:
            if self.lobby.owns(info):
                welcome = await self._take_local_seat(info, message, name)
            elif info.owner == self.lobby.worker:
                raise NoSuchRoom(f'room {info.id} is closed')  # (ended just now)
            else:
                welcome = await self._take_remote_seat(info, message, name)
        except BaseException:
            self.session.stop_watching()
            await self._run()
            raise
        await self._run()
        return self.session.welcome_reply(welcome)

    async def _take_local_seat(
        self, info: RoomInfo, message: Join, name: str
    ) -> dict[str, Any]:
        room = self.lobby.rooms[info.id]
        link = LocalLink(self, room.id)
        if message.token is not None:
            seat = await room.rejoin(message.token, link)
        else:
            seat = await room.join(name, link)
        self.session.seated(
            LocalSeat(self.lobby, room, seat.player.id, link, seat.token),
            asyncio.get_running_loop().time(),
        )
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
        encoding = self.session.encoding
        request: dict[str, Any] = {'conn': self.id, 'encoding': encoding.name}
        if message.token is not None:
            request.update(op='rejoin', token=message.token)
        else:
            request.update(op='join', name=name)
        # listening to the room from the start: a silent owner is lost
        # within its timeout, the join does not wait for nothing
        watch = OwnerWatch(
            self.lobby.settings.owner_timeout, connected=self.lobby.broker_connected
        )
        # (the state group of the player's encoding, the one the owner sends)
        await groups.join(state_group(info.id, encoding), watch)

        async def owner_changed() -> bool:
            now = await self.lobby.directory.get(info.id)
            return now is not None and now.owner != info.owner

        try:
            welcome = await self._relay.request(
                groups, info.id, request, watch, owner_changed
            )
        except BaseException:
            await groups.leave(state_group(info.id, encoding), watch)
            raise
        self._owner_watch = watch
        seat = RemoteSeat(groups, info.id, welcome['seat'], self.id, welcome['token'])
        self.session.seated(
            seat, asyncio.get_running_loop().time(), relayed=True, info=info
        )
        return welcome

    async def input(self, message: Any) -> None:
        await self.session.input_received().submit(message)

    async def leave(self) -> dict[str, Any]:
        reply = self.session.leave_requested()
        await self._run()
        return reply

    async def closed(self) -> None:
        """The connection closed: the seat waits for a reconnection."""
        self.session.closed()
        try:
            await self._run()
            if self._relay is not None:
                await self.lobby.groups.leave(connection_group(self.id), self._relay)
        except Exception:  # the broker is gone: the owner stops hearing heartbeats
            log.exception('game session %s: releasing its seat', self.id)


async def serve_connection(router: MessageRouter, connection: GameConnection) -> None:
    """Serve one connection until it closes, then release its seat for the grace period."""
    try:
        await router.serve(connection.ws, connection)
    finally:
        # shielded: a cancelled view (server shutdown) still lets the room know
        await asyncio.shield(connection.closed())
