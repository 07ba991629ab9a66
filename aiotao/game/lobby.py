"""The lobby of one worker process: the rooms it owns, and matchmaking.

* **Quick join** goes to the public room with the most people online that
  has a seat, in the directory (so possibly owned by another worker), or
  opens a new one with ``aiotao.game.bots`` bots, whose seats people
  arriving take.
* **Create** opens a public room; **private** opens one joined by a short
  code (``code``), which the directory resolves for every worker.
* **A room whose worker died** resumes here from its last checkpoint,
  under the same id (:meth:`Lobby.successor_of`): one worker claims it
  through the directory, and every player takes its seat back with its
  token.  A room with no usable checkpoint (none written, rules that
  cannot write one, a corrupt one, one of other rules or of another
  ``checkpoint_version``) is replaced by one fresh successor instead,
  and the reason logged; every worker agrees on it through the
  directory, so that its players stay together.
* Every ``aiotao.game.checkpoint_interval`` seconds the lobby writes a
  checkpoint of each room it owns to the directory's backend.
* A worker that had only stalled (past ``aiotao.game.owner_timeout``)
  may find, at its next lease refresh, that another worker resumed its
  room: the directory names that worker as the owner.  It then closes its
  own copy (its players are told, and may join the resumed one), so that
  one room never runs twice.
* Rooms end themselves once they have been empty for
  ``aiotao.game.empty_timeout`` seconds (bots do not count); the lobby then
  awaits the room's task and takes it out of the directory.  Nothing is
  left running: :meth:`Lobby.close` (at server shutdown) closes every
  room and awaits it.

There is one lobby per application and process::

    lobby = get_lobby(request.registry)
    room = await lobby.create(private=True, bots=3)
    room.code            # 'K7QX2': tell your friends
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import secrets
import socket
import time
from typing import Any

from pyramid.registry import Registry

from aiotao.game.checkpoint import Checkpoint, CheckpointError
from aiotao.game.directory import (
    MemoryDirectory,
    MongoDirectory,
    RedisDirectory,
    RoomDirectory,
    RoomInfo,
)
from aiotao.game.encoding import json_state_group
from aiotao.game.errors import NoSuchRoom, RoomClosed, TooManyRooms
from aiotao.game.relay import ControlInbox, OwnerWatch, control_group
from aiotao.game.room import Room, state_group
from aiotao.game.rules import NotCheckpointable
from aiotao.game.settings import GameSettings
from aiotao.mongo.connection import get_database
from aiotao.websocket.groups import Groups

__all__ = ['Lobby', 'new_code']

log = logging.getLogger(__name__)

#: Letters and digits that cannot be misread (no 0/O, 1/I/L).
CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789'
CODE_LENGTH = 5
GOLDEN_RATIO = (5**0.5 - 1) / 2


def new_code() -> str:
    """A private room's code: five letters and digits that read unambiguously.

    >>> len(new_code()), set(new_code()) <= set(CODE_ALPHABET)
    (5, True)
    """
    return ''.join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def directory_from_settings(
    settings: GameSettings, registry: Registry | None = None
) -> RoomDirectory:
    """The directory ``aiotao.game.directory`` names (``registry``: for ``mongodb``)."""
    if settings.directory == 'memory':
        return MemoryDirectory()
    if settings.directory == 'mongodb':
        if registry is None:
            raise ValueError('the mongodb directory needs the application registry')
        return MongoDirectory(lambda: get_database(registry))
    return RedisDirectory(settings.directory)


class Lobby:
    """The rooms owned by this process, and the way to any room."""

    def __init__(
        self,
        settings: GameSettings,
        groups: Groups,
        directory: RoomDirectory | None = None,
        registry: Registry | None = None,
    ) -> None:
        self.settings = settings
        self.groups = groups
        self.directory = directory or directory_from_settings(settings, registry)
        #: This process among the workers (the owner recorded in the directory).
        self.worker = f'{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}'
        #: The rooms this process owns, by id.
        self.rooms: dict[str, Room] = {}
        self._inboxes: dict[str, ControlInbox] = {}
        self._watchers: dict[str, asyncio.Task[None]] = {}
        self._lease_task: asyncio.Task[None] | None = None
        self._checkpoint_task: asyncio.Task[None] | None = None
        #: Rooms another worker resumed while this one stalled: closing here.
        self._superseded: set[str] = set()
        self._tasks_closing: set[asyncio.Task[None]] = set()
        self._opened = 0
        self.closed = False
        groups.on_resync(self.resync)

    # -- the broker failing over ---------------------------------------------

    def broker_connected(self) -> bool:
        """``True`` while the broadcast backend carries messages between workers."""
        return bool(getattr(self.groups.backend, 'connected', True))

    async def resync(self, groups: frozenset[str]) -> None:
        """The broadcast backend reconnected: the state messages of ``groups`` may be lost.

        Players apply deltas to the state before them, so each room whose
        state group has members here sends a full snapshot next: a room
        this worker owns at once, another worker's room when asked over
        its control group (``resync``).  Whichever of the two workers
        reconnects last triggers it, so it reaches both.  The watches of
        the other workers' rooms are given the time their owners may take
        to reconnect (``aiotao.broadcast.retry_max`` and ``timeout``).
        """
        broker = getattr(self.groups.backend, 'settings', None)
        grace = getattr(broker, 'retry_max', 0.0) + getattr(broker, 'timeout', 0.0)
        prefix = state_group('')
        # a room's state groups, one per encoding, count as the room once
        by_room: dict[str, list[str]] = {}
        for group in sorted(groups):
            if group.startswith(prefix):
                room_id = json_state_group(group)[len(prefix) :]
                by_room.setdefault(room_id, []).append(group)
        for room_id, room_groups in by_room.items():
            room = self.rooms.get(room_id)
            if room is not None:
                room.resync()
                continue
            # (a relayed player's watch is in its encoding's group)
            watches = [
                member
                for group in room_groups
                for member in self.groups.members(group)
                if isinstance(member, OwnerWatch)
            ]
            for watch in watches:
                watch.grace(grace)
            if watches:
                await self.groups.broadcast(
                    control_group(room_id), json.dumps({'op': 'resync'})
                )

    # -- finding a room ----------------------------------------------------

    def info(self, room: Room) -> RoomInfo:
        return RoomInfo(
            room.id,
            self.worker,
            room.humans,
            room.capacity,
            room.code,
            online=room.online,
            bots=room.bots,
        )

    def owns(self, info: RoomInfo) -> bool:
        return info.owner == self.worker and info.id in self.rooms

    async def quick_match(self) -> RoomInfo | None:
        """The room a quick join goes to, if one has a seat."""
        return await self.directory.quick_match()

    async def by_code(self, code: str) -> RoomInfo:
        info = await self.directory.by_code(code.strip().upper())
        if info is None:
            raise NoSuchRoom(f'no open room has the code {code[:12]!r}')
        return info

    async def get(self, room_id: str) -> RoomInfo:
        info = await self.directory.get(room_id)
        if info is None:
            raise NoSuchRoom(f'room {room_id[:16]!r} is closed')
        return info

    async def forget(self, room_id: str, owner: str | None = None) -> None:
        """Take another worker's room out of the directory: that worker stopped.

        Called when the room fell silent (see :class:`~aiotao.game.relay.OwnerWatch`),
        so that quick joins stop going to it before its lease ends.  An owner
        that had only stalled publishes its room again at its next refresh.
        With ``owner``, only while that worker is the room's owner (not
        once another worker resumed it).
        """
        info = await self.directory.get(room_id)
        if info is not None and info.owner not in (self.worker, owner or info.owner):
            return
        if info is not None and info.owner != self.worker:
            await self.directory.remove(info)

    async def can_recover(self, room_id: str) -> bool:
        """Whether the room of a dead worker is resumed or replaced (or can be)."""
        if await self.directory.successor(room_id) is not None:
            return True
        return await self.directory.load_checkpoint(room_id) is not None

    # -- owning rooms ------------------------------------------------------

    async def successor_of(
        self, room_id: str, template: RoomInfo | None = None
    ) -> RoomInfo:
        """The room replacing ``room_id``, whose worker died: resumed, or a fresh one.

        From the room's last checkpoint, one worker (the first to claim it)
        resumes the room under the same id: the answer's ``id`` is then
        ``room_id``, and its players take their seats back with their
        tokens.  Without a usable checkpoint, one fresh room replaces it
        (``template``, what the directory knew of the dead room, says
        whether it is private and how many bots it has).  Every worker
        asking gets the same room.
        """
        dead = template.owner if template is not None else None
        info = await self.directory.get(room_id)
        if info is not None and info.owner != dead:
            return info  # resumed already (or its owner had only stalled)
        checkpoint, why = await self._checkpoint_of(room_id)
        if checkpoint is not None:
            if dead is not None and checkpoint.owner != dead:
                # its resumer wrote it after publishing the room: there it is
                return await self._resumed(room_id, checkpoint.owner)
            # one claim per dead owner: a room resumed, then whose new
            # owner dies too, is resumed again
            winner = await self.directory.claim_successor(
                f'{room_id}@{checkpoint.owner}', self.worker, self.settings.lease * 6
            )
            if winner != self.worker:
                return await self._resumed(room_id, winner)
            try:
                room = await self.resume(checkpoint)
            except (RoomClosed, TooManyRooms):
                raise
            except Exception as exc:  # a checkpoint the rules cannot take back
                why = f'restoring its checkpoint failed ({exc!r})'
                log.warning(
                    'game room %s cannot resume: %s', room_id, why, exc_info=True
                )
            else:
                return self.info(room)
        log.warning(
            'game room %s is replaced by a fresh room, not resumed: %s', room_id, why
        )
        return await self._fresh_successor(room_id, template)

    async def _checkpoint_of(self, room_id: str) -> tuple[Checkpoint | None, str]:
        """The room's last checkpoint, if this worker can resume it; else why not."""
        try:
            text = await self.directory.load_checkpoint(room_id)
        except Exception as exc:  # the backend is away: no resume, players still move
            return None, f'its checkpoint could not be read ({exc!r})'
        if text is None:
            if self.settings.checkpoint_interval == 0:
                return None, 'aiotao.game.checkpoint_interval is 0 (no checkpoints)'
            if not self.settings.rules.can_checkpoint():
                return None, str(NotCheckpointable.of(self.settings.rules))
            return None, 'no checkpoint of it was written'
        try:
            checkpoint = Checkpoint.from_json(text)
            checkpoint.check_rules(self.settings.rules)
        except CheckpointError as exc:
            return None, str(exc)
        if checkpoint.room != room_id:
            return None, f'its checkpoint is of room {checkpoint.room!r}'
        return checkpoint, ''

    async def _resumed(self, room_id: str, resumer: str) -> RoomInfo:
        """The room once ``resumer`` (a worker) has resumed and published it.

        If that worker could not restore the checkpoint, it opened a fresh
        successor instead: that one.
        """
        for _attempt in range(100):
            info = await self.directory.get(room_id)
            if info is not None and info.owner == resumer:
                return info
            found = await self.directory.successor(room_id)
            if found is not None:
                return await self._published(room_id, found)
            await asyncio.sleep(0.05)
        raise NoSuchRoom(f'room {room_id[:16]!r} did not resume')

    async def _fresh_successor(
        self, room_id: str, template: RoomInfo | None
    ) -> RoomInfo:
        found = await self.directory.successor(room_id)
        if found is None:
            template = template or await self.directory.get(room_id)
            room = await self.create(
                private=template is not None and template.code is not None,
                bots=template.bots if template is not None else self.settings.bots,
                bots_yield=template is None or template.code is None,
            )
            found = await self.directory.claim_successor(
                room_id, room.id, ttl=self.settings.lease * 6
            )
            if found == room.id:
                log.info(
                    'game room %s replaces %s, whose worker stopped', room.id, room_id
                )
                return self.info(room)
            # another worker's claim came first: that one is the room
            await room.close('another room replaces the one that stopped')
        return await self._published(room_id, found)

    async def _published(self, room_id: str, found: str) -> RoomInfo:
        for _attempt in range(50):  # the claimer publishes it right after
            info = await self.directory.get(found)
            if info is not None:
                return info
            await asyncio.sleep(0.1)
        raise NoSuchRoom(f'the room replacing {room_id[:16]!r} is gone too')

    async def resume(self, checkpoint: Checkpoint) -> Room:
        """Open, owned by this process, the room ``checkpoint`` wrote down.

        Raises whatever the rules' ``restore`` raises; no room is opened then.
        """
        self._check_capacity()
        room = Room.resume(
            checkpoint, self.settings.rules(random.Random()), **self._room_options()
        )
        age = max(0.0, time.time() - checkpoint.saved_at)
        room.resumed = (
            f'the server running room {room.id} stopped: the game resumed '
            f'where it was {age:.1f} s before'
        )
        await self._open(room)
        # written at once: should this worker die too, the next resume
        # knows it was the owner
        await self._write_checkpoint(room)
        log.info(
            'game room %s resumed from the checkpoint of tick %d by %s',
            room.id,
            checkpoint.tick,
            checkpoint.owner,
        )
        return room

    async def create(
        self, *, private: bool = False, bots: int = 0, bots_yield: bool = False
    ) -> Room:
        """Open a room owned by this process, with ``bots`` seats played by the server.

        With ``bots_yield``, each person after the first takes a bot's seat.
        """
        self._check_capacity()
        room = Room(
            self.settings.rules(random.Random()),
            id=secrets.token_hex(4),
            code=new_code() if private else None,
            bots_yield=bots_yield,
            **self._room_options(),
        )
        room.add_bots(bots)
        await self._open(room)
        log.info(
            'game room %s opened (%s)', room.id, 'private' if private else 'public'
        )
        return room

    def _check_capacity(self) -> None:
        if self.closed:
            raise RoomClosed('the server is shutting down: no new rooms')
        if len(self.rooms) >= self.settings.max_rooms:
            raise TooManyRooms(
                f'this server runs its maximum of {self.settings.max_rooms} rooms '
                f'(aiotao.game.max_rooms); try again later'
            )

    def _room_options(self) -> dict[str, Any]:
        settings = self.settings
        self._opened += 1
        return {
            'broadcast': self.groups.broadcast,
            'tick_rate': settings.tick_rate,
            'grace_period': settings.grace_period,
            'empty_timeout': settings.empty_timeout,
            'max_queued_inputs': settings.max_queued_inputs,
            'keyframe_interval': settings.keyframe_interval,
            'json_library': settings.json_library,
            # the golden ratio spreads any number of rooms evenly over a period
            'phase': self._opened * GOLDEN_RATIO,
            'welcome': {'worker': os.getpid()},
        }

    async def _open(self, room: Room) -> None:
        inbox = ControlInbox(room, self.groups, self.publish)
        await self.groups.join(control_group(room.id), inbox)
        self.rooms[room.id] = room
        self._inboxes[room.id] = inbox
        room.start()
        self._watchers[room.id] = asyncio.create_task(
            self._watch(room), name=f'game room {room.id} watcher'
        )
        await self.publish(room)
        self._start_lease()

    async def publish(self, room: Room) -> None:
        """Tell the directory the room's current players (after a join or leave)."""
        if not room.closed:
            await self.directory.publish(self.info(room), self.settings.lease)

    async def _watch(self, room: Room) -> None:
        """Await the room's end, then forget it."""
        assert room.task is not None
        try:
            await asyncio.wait([room.task])
        finally:
            self.rooms.pop(room.id, None)
            self._watchers.pop(room.id, None)
            inbox = self._inboxes.pop(room.id, None)
            if inbox is not None:
                await inbox.close()
                try:
                    await self.groups.leave(control_group(room.id), inbox)
                except Exception:  # the backend may be closed already (shutdown)
                    log.exception('game room %s: leaving its control group', room.id)
            try:
                await self.directory.remove(self.info(room))
                if room.id not in self._superseded:
                    # ended (empty, failed or shut down): not to be resumed
                    await self.directory.delete_checkpoint(room.id)
            except Exception:  # the directory's lease expires the entry anyway
                log.exception('game room %s: removing it from the directory', room.id)
            self._superseded.discard(room.id)
            log.info('game room %s ended (%s)', room.id, room.outcome)
            if not self.rooms:
                await self._stop_lease()

    def _start_lease(self) -> None:
        if self._lease_task is None or self._lease_task.done():
            self._lease_task = asyncio.create_task(
                self._refresh_leases(), name='game rooms lease'
            )
        if self.settings.checkpoint_interval and (
            self._checkpoint_task is None or self._checkpoint_task.done()
        ):
            self._checkpoint_task = asyncio.create_task(
                self._write_checkpoints(), name='game rooms checkpoints'
            )

    async def _write_checkpoints(self) -> None:
        while self.rooms:
            await asyncio.sleep(self.settings.checkpoint_interval)
            for room in list(self.rooms.values()):
                await self._write_checkpoint(room)
                # (issue 22) the ticks due meanwhile run between two rooms
                await asyncio.sleep(0)

    async def _write_checkpoint(self, room: Room) -> None:
        """Write ``room`` down in the directory (nothing if its rules cannot)."""
        if (
            room.closed
            or room.id in self._superseded
            or not room.rules.can_checkpoint()
        ):
            return
        try:
            # taken whole between two ticks: the rules run on this thread
            text = room.checkpoint(self.worker).to_json()
        except Exception:  # one room's bug must not stop the others' checkpoints
            log.exception('game room %s: writing its checkpoint', room.id)
            return
        try:
            await self.directory.save_checkpoint(
                room.id, text, self.settings.checkpoint_ttl
            )
            if room.closed:  # it ended meanwhile: not to be resumed
                await self.directory.delete_checkpoint(room.id)
        except Exception:  # the backend is away for a moment: next interval
            log.exception('game room %s: saving its checkpoint', room.id)

    async def _refresh_leases(self) -> None:
        while self.rooms:
            await asyncio.sleep(self.settings.lease / 3)
            for room in list(self.rooms.values()):
                inbox = self._inboxes.get(room.id)
                if inbox is not None:
                    inbox.drop_silent(self.settings.lease)
                try:
                    if not await self._taken_over(room):
                        await self.publish(room)
                except Exception:  # Redis away for a moment: retry next round
                    log.exception('game room %s: refreshing its lease', room.id)

    async def _taken_over(self, room: Room) -> bool:
        """Whether another worker resumed ``room`` (this one had stalled): close it."""
        if room.id in self._superseded:
            return True
        current = await self.directory.get(room.id)
        if current is None or current.owner == self.worker:
            return False
        log.warning(
            'game room %s was resumed by %s while this worker stalled: closing it here',
            room.id,
            current.owner,
        )
        self._superseded.add(room.id)
        # in a task of its own: the room's end may stop this lease task
        closing = asyncio.create_task(
            room.close('this room moved to another server: join it again')
        )
        self._tasks_closing.add(closing)
        closing.add_done_callback(self._tasks_closing.discard)
        return True

    async def _stop_lease(self) -> None:
        tasks = (self._lease_task, self._checkpoint_task)
        self._lease_task = self._checkpoint_task = None
        for task in tasks:
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                await asyncio.wait([task])

    def metrics(self) -> dict[str, dict[str, Any]]:
        """Each owned room's tick metrics (see :class:`~aiotao.game.metrics.TickMetrics`)."""
        return {id: room.metrics.as_dict() for id, room in self.rooms.items()}

    async def close(self) -> None:
        """Close every room, await their tasks, stop the directory (at shutdown)."""
        self.closed = True
        # (taken first: a watcher forgets itself as soon as its room ends)
        watchers = list(self._watchers.values())
        for room in list(self.rooms.values()):
            await room.close('the server is shutting down')
        if watchers:
            await asyncio.wait(watchers)
        await self._stop_lease()
        await self.directory.close()
