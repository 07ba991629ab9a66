"""Named groups of connections and broadcast: chat rooms, game rooms, push.

A connection joins and leaves groups; a message broadcast to a group goes
to every open connection in it::

    @view_config(route_name='room', mapper=WebsocketMapper)
    async def room(ws):
        name = ws.request.matchdict['name']
        await ws.join(name)                      # left automatically on close
        async for message in ws:
            await ws.broadcast(name, message)    # or request.websocket_groups

and from anywhere with the registry (a background task, an HTTP view)::

    await get_groups(request.registry).broadcast('news', 'hello')

**Slow clients.**  Broadcast never waits for a client: it puts the message
in each connection's send queue and returns.  A connection whose queue is
full (``aiotao.websocket.max_queue``) is too slow to keep up: it is closed
with code 1008 rather than buffered without bound.  Closed connections are
skipped.

**One per application.**  ``config.include('aiotao.websocket')`` registers
the application's :class:`Groups` (:class:`~aiotao.interfaces.IGroups`) when
the configuration is committed; :func:`get_groups` and
``request.websocket_groups`` look it up.

**Across processes.**  :class:`Groups` keeps who is in which group in this
process and delivers a broadcast to its local members at once; a
:class:`~aiotao.websocket.backends.interface.GroupBackend` carries it to
the other processes (gunicorn workers, machines), which deliver it to
theirs.  The backend is the ``aiotao.broadcast`` setting: ``memory``
(default, one process), ``redis://…`` or ``mongodb`` (see
:mod:`aiotao.websocket.backends`).  Delivery is at most once: a message
published while the broker is down reaches this process's members only.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Protocol

from pyramid.registry import Registry
from pyramid.threadlocal import get_current_registry, get_current_request

from aiotao.interfaces import IGroups
from aiotao.services import get_service
from aiotao.websocket.backends import GroupBackend, InMemoryBackend
from aiotao.websocket.transport import Message

__all__ = [
    'GroupBackend',
    'GroupMember',
    'Groups',
    'InMemoryBackend',
    'Resync',
    'broadcast',
    'get_groups',
]

log = logging.getLogger(__name__)


class GroupMember(Protocol):
    """What a group needs of a connection."""

    @property
    def is_open(self) -> bool: ...

    def send_nowait(self, data: Message) -> bool:
        """Queue ``data`` without waiting; ``False`` if not queued (closed, too slow)."""


#: ``await resync(groups)``: the local members of ``groups`` may have
#: missed broadcasts (the backend reconnected); send them what they need.
Resync = Callable[[frozenset[str]], Awaitable[None]]


class Groups:
    """The groups of one application (one registry) in this process.

    >>> groups = Groups(InMemoryBackend())
    >>> asyncio.run(groups.broadcast('room', 'nobody hears this'))
    >>> groups.members('room')
    frozenset()
    """

    def __init__(self, backend: GroupBackend) -> None:
        self.backend = backend
        self._members: dict[str, set[GroupMember]] = {}
        self._joined: dict[GroupMember, set[str]] = {}
        self._subscribing: dict[str, asyncio.Future[None]] = {}
        # Where the backend was started, or is starting: (pid, loop).
        self._starting: asyncio.Future[None] | None = None
        self._starting_in: tuple[int, asyncio.AbstractEventLoop] | None = None
        self._started_in: tuple[int, asyncio.AbstractEventLoop] | None = None
        self._resyncs: list[Resync] = []
        self._resyncing: set[asyncio.Task[None]] = set()
        if hasattr(backend, 'on_resync'):
            backend.on_resync = self._resync

    def on_resync(self, resync: Resync) -> None:
        """Call ``resync(groups)`` after each reconnection of the backend.

        ``groups`` are those with members in this process; broadcasts made
        to them while the backend was away did not arrive.  ``resync`` runs
        in a task of its own, and its errors are logged.
        """
        if resync not in self._resyncs:
            self._resyncs.append(resync)

    def _resync(self, groups: list[str]) -> None:
        wanted = frozenset(groups)
        log.info(
            'aiotao.broadcast: reconnected; telling the members of %d groups to resync',
            len(wanted),
        )
        for resync in self._resyncs:
            task = asyncio.ensure_future(self._run_resync(resync, wanted))
            self._resyncing.add(task)
            task.add_done_callback(self._resyncing.discard)

    @staticmethod
    async def _run_resync(resync: Resync, groups: frozenset[str]) -> None:
        try:
            await resync(groups)
        except Exception:
            log.exception('aiotao.broadcast: resync %r failed', resync)

    async def _ensure_started(self) -> None:
        here = (os.getpid(), asyncio.get_running_loop())
        if self._started_in == here:
            return
        # Concurrent first joins share one start.  A start made in another
        # process (before gunicorn forked) or on an event loop that is gone
        # (tests run one loop each) is redone: the backend's connections
        # belong to that process and loop.
        if self._starting is None or self._starting_in != here:
            self._starting_in = here
            self._starting = asyncio.ensure_future(self.backend.start(self.deliver))
        try:
            await asyncio.shield(self._starting)
        except Exception:
            self._starting = self._starting_in = None
            raise
        self._started_in = here

    async def join(self, group: str, member: GroupMember) -> None:
        """Add ``member`` to ``group`` (joining twice is joining once).

        Returns once the backend subscribed the group (unless its broker is
        down): what any process broadcasts from then on reaches ``member``.
        """
        await self._ensure_started()
        members = self._members.get(group)
        if members is None:
            members = self._members[group] = set()
            subscribing = self._subscribing[group] = asyncio.ensure_future(
                self.backend.subscribe(group)
            )
            try:
                await asyncio.shield(subscribing)
            except BaseException:
                if not members:
                    del self._members[group]
                raise
            finally:
                self._subscribing.pop(group, None)
        elif group in self._subscribing:
            # joined while the first member's subscription is under way:
            # return once it is in place, as the first member does
            await asyncio.shield(self._subscribing[group])
        members.add(member)
        self._joined.setdefault(member, set()).add(group)

    async def leave(self, group: str, member: GroupMember) -> None:
        """Remove ``member`` from ``group``; leaving a group not joined is fine."""
        members = self._members.get(group)
        if members is None or member not in members:
            return
        members.discard(member)
        joined = self._joined.get(member)
        if joined is not None:
            joined.discard(group)
            if not joined:
                del self._joined[member]
        if not members:
            del self._members[group]
            await self.backend.unsubscribe(group)

    async def leave_all(self, member: GroupMember) -> None:
        """Remove ``member`` from all its groups (done when it closes)."""
        for group in list(self._joined.get(member, ())):
            await self.leave(group, member)

    def joined(self, member: GroupMember) -> frozenset[str]:
        """The groups ``member`` is in."""
        return frozenset(self._joined.get(member, ()))

    def members(self, group: str) -> frozenset[GroupMember]:
        """The local members of ``group``."""
        return frozenset(self._members.get(group, ()))

    async def broadcast(self, group: str, message: Message) -> None:
        """Send ``message`` to every open connection in ``group``, in every process.

        This process's members have it in their queues when the call
        returns; the backend took it for the others.  Never waits for a
        client, nor for long for the broker.
        """
        if not isinstance(message, (str, bytes)):
            raise TypeError(
                f'broadcast() sends str or bytes, not {type(message).__name__}'
            )
        await self._ensure_started()
        self.deliver(group, message)
        await self.backend.publish(group, message)
        # Let the writers of connections that keep up pass the message to
        # their sockets before the caller makes the next one: a burst of
        # broadcasts (a history replay) must not fill their queues.
        await asyncio.sleep(0)

    def deliver(self, group: str, message: Message) -> int:
        """Queue ``message`` for the local members of ``group``; how many got it.

        Called by :meth:`broadcast` and by the backend.  Synchronous on
        purpose: it cannot wait for a client, so a slow one cannot delay the
        others.
        """
        delivered = 0
        for member in tuple(self._members.get(group, ())):
            if member.is_open and member.send_nowait(message):
                delivered += 1
        return delivered

    async def close(self) -> None:
        """Stop the backend (at server shutdown)."""
        for task in list(self._resyncing):
            task.cancel()
        if self._started_in is not None:
            self._started_in = self._starting = self._starting_in = None
            await self.backend.close()


def get_groups(registry: Registry) -> Groups:
    """The :class:`Groups` of the application ``registry``.

    Registered when the configuration is committed by
    ``config.include('aiotao.websocket')`` (which ``config.include('aiotao')``
    does), on the backend the ``aiotao.broadcast`` setting names or the one
    ``config.set_broadcast_backend()`` set:

    >>> from pyramid.config import Configurator
    >>> config = Configurator(settings={})
    >>> config.include('aiotao.websocket'); config.commit()
    >>> registry = config.registry
    >>> get_groups(registry) is get_groups(registry)
    True
    """
    return get_service(registry, IGroups, 'aiotao.websocket')  # type: ignore[no-any-return]


async def broadcast(
    group: str, message: Message, *, registry: Registry | None = None
) -> None:
    """Broadcast ``message`` to ``group`` of the current application.

    Inside a request (an HTTP or a websocket view) the application is the
    current request's; elsewhere (a background task) pass ``registry``::

        await broadcast('news', 'hello')                  # in a view
        await broadcast('news', 'hello', registry=registry)
    """
    if registry is None:
        if get_current_request() is None:
            raise RuntimeError(
                'broadcast() outside a request does not know the application: '
                'pass registry=, or use get_groups(registry).broadcast()'
            )
        registry = get_current_registry()
    await get_groups(registry).broadcast(group, message)
