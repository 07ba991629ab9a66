"""Who is in a room, across every worker and machine: entries in MongoDB.

Each connection in a room is one document of ``chat_presence``::

    {_id: <uuid>, room: 'lobby', nick: 'ada', worker: 'host:pid', seen: <time>}

written when it joins and deleted when it leaves.  The members of a room
are the nicknames of its entries (once each, sorted), so every worker
answers the same list.

**A worker that dies** (``kill -9``, a lost machine) cannot delete its
entries.  So each worker renews ``seen`` on its own entries every
``presence_ttl / 3`` seconds (the heartbeat), the member list counts only
entries seen within ``presence_ttl``, and every worker's heartbeat also
sweeps: it deletes entries older than that and announces ``left`` for
each.  The delete is conditional on the entry still being stale, so when
several workers sweep the same entry exactly one of them announces it.  A
dead worker's members are thus gone from the list at most
``presence_ttl`` after its last heartbeat, and announced as left at most
a heartbeat later.

Why MongoDB and not the broadcast backend: presence is state that a new
worker must be able to read (a pub/sub backend only carries events to
those listening at the time), and the chat needs MongoDB anyway.  The
clocks of the machines are compared (``seen``), so keep them in sync
(NTP) to well under ``presence_ttl``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.errors import PyMongoError
from pyramid.registry import Registry

from aiotao.chat import protocol
from aiotao.chat.announcements import announce
from aiotao.chat.settings import get_chat_settings
from aiotao.mongo.connection import get_database

__all__ = ['PRESENCE_COLLECTION', 'Presence', 'get_presence']

log = logging.getLogger(__name__)

PRESENCE_COLLECTION = 'chat_presence'
#: How many stale entries one sweep removes at most (the next sweep goes on).
SWEEP_BATCH = 200

#: ``on_expired(room, nick)``: announce a member whose worker stopped beating.
OnExpired = Callable[[str, str], Awaitable[None]]


def _worker_name() -> str:
    return f'{socket.gethostname()}:{os.getpid()}'


class Presence:
    """The presence entries of this process's connections, kept alive.

    ``database()`` returns the MongoDB database; ``on_expired`` is awaited
    for each stale entry this process swept::

        presence = Presence(lambda: request.db, ttl=30)
        entry = await presence.enter('lobby', 'ada')
        await presence.members('lobby')          # ['ada', ...] from every worker
        await presence.leave(entry)
    """

    def __init__(
        self,
        database: Callable[[], Any],
        *,
        ttl: float,
        on_expired: OnExpired | None = None,
    ) -> None:
        self._database = database
        self.ttl = ttl
        self.on_expired = on_expired
        #: entry id -> room, for the entries of this process
        self._local: dict[str, str] = {}
        self._heartbeat: asyncio.Task[None] | None = None
        self._indexed = False

    def _collection(self) -> Any:
        return self._database()[PRESENCE_COLLECTION]

    def _cutoff(self) -> datetime:
        return datetime.now(UTC) - timedelta(seconds=self.ttl)

    async def _ensure_indexes(self) -> None:
        if not self._indexed:
            collection = self._collection()
            await collection.create_index([('room', ASCENDING), ('seen', ASCENDING)])
            await collection.create_index([('seen', ASCENDING)])
            self._indexed = True

    async def enter(self, room: str, nick: str) -> str:
        """Add a member to ``room``; returns its entry id (for :meth:`leave`)."""
        await self._ensure_indexes()
        entry = uuid.uuid4().hex
        await self._collection().insert_one(
            {
                '_id': entry,
                'room': room,
                'nick': nick,
                'worker': _worker_name(),
                'seen': datetime.now(UTC),
            }
        )
        self._local[entry] = room
        self._start_heartbeat()
        return entry

    async def rename(self, entry: str, nick: str) -> None:
        """The member of ``entry`` is now called ``nick``."""
        await self._collection().update_one({'_id': entry}, {'$set': {'nick': nick}})

    async def leave(self, entry: str) -> bool:
        """Remove the member of ``entry``; ``False`` if a sweep removed it already."""
        self._local.pop(entry, None)
        result = await self._collection().delete_one({'_id': entry})
        return bool(result.deleted_count)

    async def members(self, room: str) -> list[str]:
        """The nicknames in ``room``, in every worker, sorted."""
        names = await self._collection().distinct(
            'nick', {'room': room, 'seen': {'$gte': self._cutoff()}}
        )
        return sorted(names, key=lambda name: (name.casefold(), name))

    async def beat(self) -> None:
        """Renew this process's entries (so they are not swept)."""
        if self._local:
            await self._collection().update_many(
                {'_id': {'$in': list(self._local)}},
                {'$set': {'seen': datetime.now(UTC)}},
            )

    async def sweep(self) -> list[tuple[str, str]]:
        """Delete the stale entries of dead workers; ``(room, nick)`` of those this call removed."""
        cutoff = self._cutoff()
        collection = self._collection()
        stale = await collection.find(
            {'seen': {'$lt': cutoff}}, {'room': 1, 'nick': 1}
        ).to_list(length=SWEEP_BATCH)
        removed = []
        for entry in stale:
            # conditional: another worker's sweep (or a late heartbeat) wins
            result = await collection.delete_one(
                {'_id': entry['_id'], 'seen': {'$lt': cutoff}}
            )
            if result.deleted_count:
                removed.append((entry['room'], entry['nick']))
        return removed

    def _start_heartbeat(self) -> None:
        task = self._heartbeat
        loop = asyncio.get_running_loop()
        if task is not None and not task.done() and task.get_loop() is loop:
            return
        self._heartbeat = loop.create_task(self._run_heartbeat())

    async def _run_heartbeat(self) -> None:
        interval = self.ttl / 3
        while True:
            await asyncio.sleep(interval)
            try:
                await self.beat()
                for room, nick in await self.sweep():
                    log.info('aiotao.chat: %s left %s (its worker stopped)', nick, room)
                    if self.on_expired is not None:
                        await self.on_expired(room, nick)
            except PyMongoError as exc:
                # the database is away: entries age, and the next beat renews them
                log.warning('aiotao.chat: presence heartbeat failed: %s', exc)
            except Exception:
                log.exception('aiotao.chat: presence heartbeat failed')

    async def close(self) -> None:
        """Stop the heartbeat and remove this process's entries (at shutdown)."""
        task, self._heartbeat = self._heartbeat, None
        if task is not None and task.get_loop() is asyncio.get_running_loop():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        entries, self._local = list(self._local), {}
        if entries:
            try:
                await self._collection().delete_many({'_id': {'$in': entries}})
            except PyMongoError as exc:
                log.warning('aiotao.chat: could not remove presence entries: %s', exc)


_REGISTRY_KEY = 'aiotao.chat.presence'


def get_presence(registry: Registry) -> Presence:
    """The application's :class:`Presence` in this process (made on first use)."""
    presence = registry.get(_REGISTRY_KEY)
    if presence is None:

        async def expired(room: str, nick: str) -> None:
            await announce(registry, presence, room, protocol.left(room, nick))

        presence = registry[_REGISTRY_KEY] = Presence(
            lambda: get_database(registry),
            ttl=get_chat_settings(registry).presence_ttl,
            on_expired=expired,
        )
    return presence  # type: ignore[no-any-return]
