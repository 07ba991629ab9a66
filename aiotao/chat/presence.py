"""Who is in a chat room, on every worker: the chat's use of :mod:`aiotao.presence`.

Each connection to a room is tracked in the topic ``aiotao.chat:<room>``
under its person's key (:attr:`~aiotao.chat.nicknames.Nickname.key`: a
userid, or a guest id kept in the session) with the meta ``{"nick":
name, "signed_in": bool}``.  So a person with three tabs is one member:
the first tab is one ``joined``, the last one closing is one ``left``,
and a worker killed under them is no ``left`` at all if they reconnect
elsewhere within ``aiotao.presence.timeout``.

Every worker listens to the rooms its connections are in, and tells them,
and only them, what changed (``joined``, ``left``, ``renamed``, then the
``members``): each worker does it for its own connections, so each page
hears each change once.

**A nickname is unique in a room**, up to case and look-alikes
(:func:`~aiotao.chat.lookalikes.skeleton`), and the name of a signed-in
user (:mod:`aiotao.chat.signed_in`) is theirs alone: :meth:`ChatPresence.check_free`
refuses a rename that would take one, and a guest arriving with a taken
name gets a variant of it for that room (``ada 2``).  When a signed-in
user arrives where a guest goes by their name, the guest is renamed.  The
check reads the presence every worker shares, so two guests renaming to
one name on two workers within the broadcast's latency may both succeed.

**A rename follows the person**: the other tabs of someone who renamed,
on any worker, take the new name too.

**One per application**: ``config.include('aiotao.chat')`` registers a
:class:`ChatPresence` (:class:`~aiotao.interfaces.IChatPresence`) when the
configuration is committed.  Who is connected goes through
:mod:`aiotao.presence` on the broadcast backend (``aiotao.broadcast``:
memory, Redis or MongoDB); the names of signed-in users are kept where the
``aiotao.chat.presence`` setting says (``mongodb``, the default;
``memory``; or a Redis URL: :mod:`aiotao.chat.signed_in`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from pyramid.registry import Registry
from zope.interface import implementer

from aiotao.chat import protocol
from aiotao.chat.announcements import announcements
from aiotao.chat.lookalikes import skeleton
from aiotao.chat.nicknames import MAX_NICKNAME_LENGTH, Nickname, guest_nickname
from aiotao.chat.rooms import group_name
from aiotao.chat.signed_in import SignedInNamesStore, get_signed_in_names
from aiotao.interfaces import IChatPresence
from aiotao.presence import Meta, Presence, PresenceDiff, get_presence
from aiotao.services import get_service
from aiotao.websocket.groups import get_groups
from aiotao.websocket.messages import MessageError

if TYPE_CHECKING:
    from aiotao.chat.connection import ChatConnection

__all__ = ['TOPIC_PREFIX', 'ChatPresence', 'get_chat_presence', 'topic']

log = logging.getLogger(__name__)

TOPIC_PREFIX = 'aiotao.chat:'


def topic(room: str) -> str:
    """The presence topic of ``room``.

    >>> topic('lobby')
    'aiotao.chat:lobby'
    """
    return TOPIC_PREFIX + room


def meta(nick: Nickname) -> Meta:
    """What the room knows of a member."""
    return {'nick': nick.name, 'signed_in': nick.authenticated}


def variants(name: str) -> Iterator[str]:
    """Names for a guest whose name is taken: ``name 2``, ``name 3``...

    >>> list(variants('ada'))[:2], next(variants('x' * 24))
    (['ada 2', 'ada 3'], 'xxxxxxxxxxxxxxxxxxxxxx 2')
    """
    for number in range(2, 100):
        suffix = f' {number}'
        yield name[: MAX_NICKNAME_LENGTH - len(suffix)].rstrip() + suffix


class _Room:
    """One room as this worker sees it: its connections here, by person."""

    def __init__(self, unsubscribe: Callable[[], None]) -> None:
        self.unsubscribe = unsubscribe
        self.local: dict[str, set[ChatConnection]] = {}

    def connections(self) -> Iterator[ChatConnection]:
        for connections in self.local.values():
            yield from connections


@implementer(IChatPresence)
class ChatPresence:
    """The chat rooms' members, on the application's presence tracker."""

    def __init__(
        self, registry: Registry, tracker: Presence, signed_in: SignedInNamesStore
    ) -> None:
        self.registry = registry
        self.tracker = tracker
        self.signed_in = signed_in
        self._rooms: dict[str, _Room] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- who is there ----------------------------------------------------

    def names(self, room: str) -> list[str]:
        """The nicknames in ``room``, on every worker, sorted."""
        names = [
            str(m.get('nick', '')) for m in self.tracker.present(topic(room)).values()
        ]
        return sorted(names, key=lambda name: (name.casefold(), name))

    def _holder(self, room: str, name: str, key: str) -> str | None:
        """The nickname of another member of ``room`` that looks like ``name``."""
        folded = skeleton(name)
        for other, known in self.tracker.present(topic(room)).items():
            nick = str(known.get('nick', ''))
            if other != key and skeleton(nick) == folded:
                return nick
        return None

    async def check_free(self, room: str, name: str, key: str) -> None:
        """Refuse ``name`` for ``key`` in ``room`` if someone else has it (or a look-alike)."""
        holder = self._holder(room, name, key)
        if holder is not None:
            raise MessageError(
                'nick_taken',
                f'{name!r} is taken in this room: {holder!r} is here; choose another',
            )
        userid = await self.signed_in.holder(name)
        if userid is not None and key != f'user:{userid}':
            raise MessageError(
                'nick_reserved',
                f'{name!r} is the name of a signed-in user; choose another',
            )

    async def settle(
        self, room: str, nick: Nickname, *, as_before: bool = True
    ) -> tuple[Nickname, str | None]:
        """The name ``nick`` goes by in ``room``, and why it differs, if it does.

        A signed-in user keeps their name (and it is recorded as theirs);
        a guest already in the room (another tab) keeps the name it has
        there, unless ``as_before`` is false; a guest whose name is taken
        gets a free variant of it.
        """
        await self.tracker.start()
        here = self.tracker.meta_of(topic(room), nick.key)
        if here is not None and as_before and not nick.authenticated:
            # another tab of this person: it goes by the name they have here
            return Nickname(str(here.get('nick', nick.name)), key=nick.key), None
        if nick.authenticated:
            await self.signed_in.claim(nick.name, nick.key.removeprefix('user:'))
            return nick, None
        for name in (nick.name, *variants(nick.name), guest_nickname()):
            try:
                await self.check_free(room, name, nick.key)
            except MessageError:
                continue
            if name == nick.name:
                return nick, None
            return Nickname(name, key=nick.key), (
                f'{nick.name!r} is taken in this room: you are {name!r} here'
            )
        raise MessageError('nick_taken', 'no free nickname in this room')

    # -- this worker's connections -----------------------------------------

    async def enter(self, connection: ChatConnection) -> None:
        """Track ``connection`` in its room; the room hears of it.

        A person already there (another tab, a reload) makes no news: this
        connection alone gets the member list.
        """
        room_name = connection.room
        room = self._rooms.get(room_name)
        if room is None:
            room = self._rooms[room_name] = _Room(
                self.tracker.subscribe(
                    topic(room_name), lambda diff: self._heard(room_name, diff)
                )
            )
        key = connection.nick.key
        room.local.setdefault(key, set()).add(connection)
        already = self.tracker.meta_of(topic(room_name), key) is not None
        connection.ref = await self.tracker.track(
            topic(room_name), key, meta(connection.nick)
        )
        if already:
            await connection.ws.send_json(
                protocol.members(room_name, self.names(room_name))
            )

    async def rename(self, connection: ChatConnection, nick: Nickname) -> None:
        """``connection``'s person is now called ``nick``: every room member hears it."""
        connection.nick = nick
        if connection.ref is not None:
            await self.tracker.update(connection.ref, meta(nick))

    async def leave(self, connection: ChatConnection) -> None:
        """Stop tracking ``connection`` (its person leaves once their last one has)."""
        room = self._rooms.get(connection.room)
        if room is not None:
            connections = room.local.get(connection.nick.key)
            if connections is not None:
                connections.discard(connection)
                if not connections:
                    del room.local[connection.nick.key]
            if not room.local:
                room.unsubscribe()
                del self._rooms[connection.room]
        ref, connection.ref = connection.ref, None
        if ref is not None:
            await self.tracker.untrack(ref)

    # -- what the other workers did ------------------------------------------

    def _heard(self, room_name: str, diff: PresenceDiff) -> None:
        groups = get_groups(self.registry)
        for message in announcements(room_name, diff, self.names(room_name)):
            groups.deliver(
                group_name(room_name), json.dumps(message, separators=(',', ':'))
            )
        room = self._rooms.get(room_name)
        if room is None:
            return
        for key, (_, new) in diff.updates.items():
            name = str(new.get('nick', ''))
            for connection in list(room.local.get(key, ())):
                if connection.nick.name != name:
                    # another tab of this person renamed: this one follows
                    self._spawn(self.rename(connection, Nickname(name, key=key)))
        for key, joined in diff.joins.items():
            if joined.get('signed_in'):
                self._give_back(room, room_name, key, str(joined.get('nick', '')))

    def _give_back(self, room: _Room, room_name: str, owner: str, name: str) -> None:
        """Rename this worker's guests in ``room`` who go by a signed-in arrival's name."""
        folded = skeleton(name)
        for connection in list(room.connections()):
            nick = connection.nick
            if (
                nick.key != owner
                and not nick.authenticated
                and skeleton(nick.name) == folded
            ):
                self._spawn(self._rename_guest(connection, room_name, name))

    async def _rename_guest(
        self, connection: ChatConnection, room_name: str, owner_name: str
    ) -> None:
        settled, _ = await self.settle(room_name, connection.nick, as_before=False)
        await self.rename(connection, settled)
        connection.ws.send_nowait(
            json.dumps(
                {
                    'type': 'error',
                    'code': 'nick_reserved',
                    'message': f'{owner_name!r} signed in: you are now {settled.name!r}',
                    'nick': settled.name,
                }
            )
        )

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error('aiotao.chat: a rename failed', exc_info=task.exception())


def make_chat_presence(registry: Registry) -> ChatPresence:
    """The :class:`ChatPresence` of ``registry``'s tracker and signed-in names."""
    return ChatPresence(registry, get_presence(registry), get_signed_in_names(registry))


def get_chat_presence(registry: Registry) -> ChatPresence:
    """The chat rooms' members (registered by ``config.include('aiotao.chat')``)."""
    return get_service(registry, IChatPresence, 'aiotao.chat')  # type: ignore[no-any-return]
