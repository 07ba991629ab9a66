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

**Backends.**  :class:`Groups` keeps who is in which group in this process
and delivers locally; a :class:`GroupBackend` carries each broadcast to
every process that has members.  The default :class:`InMemoryBackend` is
one process; other backends (Redis pub/sub, MongoDB change streams) plug in
with the setting ``aiotao.websocket.groups_backend``, a dotted name of a
callable taking the settings and returning a backend.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from pyramid.exceptions import ConfigurationError
from pyramid.path import DottedNameResolver
from pyramid.registry import Registry
from pyramid.threadlocal import get_current_registry, get_current_request

from aiotao.websocket.limits import SETTINGS_PREFIX
from aiotao.websocket.transport import Message

__all__ = [
    'GroupBackend',
    'GroupMember',
    'Groups',
    'InMemoryBackend',
    'broadcast',
    'get_groups',
]

log = logging.getLogger(__name__)

#: ``deliver(group, message)``: hand a published message to local members.
Deliver = Callable[[str, Message], int]

BACKEND_SETTING = SETTINGS_PREFIX + 'groups_backend'


class GroupMember(Protocol):
    """What a group needs of a connection."""

    @property
    def is_open(self) -> bool: ...

    def send_nowait(self, data: Message) -> bool:
        """Queue ``data`` without waiting; ``False`` if not queued (closed, too slow)."""


class GroupBackend(Protocol):
    """Carries broadcasts between the processes that have group members.

    :class:`Groups` calls :meth:`subscribe` when the first local member
    joins a group and :meth:`unsubscribe` when the last one leaves; the
    backend calls ``deliver(group, message)`` for each message published to
    a subscribed group, from any process (this one included).  ``deliver``
    only queues; a backend that receives messages in a task should let the
    loop run between two deliveries (one message per read does), so that
    connections pass each message to their sockets before the next.
    """

    async def start(self, deliver: Deliver) -> None: ...

    async def subscribe(self, group: str) -> None: ...

    async def unsubscribe(self, group: str) -> None: ...

    async def publish(self, group: str, message: Message) -> None: ...

    async def close(self) -> None: ...


class InMemoryBackend:
    """One process: a published message is delivered here, at once.

    >>> backend = InMemoryBackend()
    >>> asyncio.run(backend.publish('room', 'hi'))  # nobody listens yet
    """

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        self._deliver: Deliver | None = None

    async def start(self, deliver: Deliver) -> None:
        self._deliver = deliver

    async def subscribe(self, group: str) -> None:
        pass

    async def unsubscribe(self, group: str) -> None:
        pass

    async def publish(self, group: str, message: Message) -> None:
        if self._deliver is not None:
            self._deliver(group, message)

    async def close(self) -> None:
        self._deliver = None


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
        self._started = False
        self._starting: asyncio.Future[None] | None = None

    async def _ensure_started(self) -> None:
        if self._started:
            return
        # Concurrent first joins share one start; a start left behind by an
        # event loop that is gone (tests run one loop each) is redone.
        starting = self._starting
        if starting is None or starting.get_loop() is not asyncio.get_running_loop():
            starting = self._starting = asyncio.ensure_future(
                self.backend.start(self.deliver)
            )
        try:
            await asyncio.shield(starting)
        except Exception:
            self._starting = None
            raise
        self._started = True

    async def join(self, group: str, member: GroupMember) -> None:
        """Add ``member`` to ``group`` (joining twice is joining once)."""
        await self._ensure_started()
        members = self._members.get(group)
        if members is None:
            members = self._members[group] = set()
            await self.backend.subscribe(group)
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

        Returns once the backend took the message; never waits for a client.
        """
        if not isinstance(message, (str, bytes)):
            raise TypeError(
                f'broadcast() sends str or bytes, not {type(message).__name__}'
            )
        await self._ensure_started()
        await self.backend.publish(group, message)
        # Let the writers of connections that keep up pass the message to
        # their sockets before the caller makes the next one: a burst of
        # broadcasts (a history replay) must not fill their queues.
        await asyncio.sleep(0)

    def deliver(self, group: str, message: Message) -> int:
        """Queue ``message`` for the local members of ``group``; how many got it.

        Called by the backend.  Synchronous on purpose: it cannot wait for
        a client, so a slow one cannot delay the others.
        """
        delivered = 0
        for member in tuple(self._members.get(group, ())):
            if member.is_open and member.send_nowait(message):
                delivered += 1
        return delivered

    async def close(self) -> None:
        """Stop the backend (at server shutdown)."""
        if self._started:
            self._started = False
            self._starting = None
            await self.backend.close()


def backend_from_settings(settings: Mapping[str, Any] | None) -> GroupBackend:
    """The backend ``aiotao.websocket.groups_backend`` names (in-memory by default)."""
    name = (settings or {}).get(BACKEND_SETTING)
    if not name:
        return InMemoryBackend(settings)
    try:
        factory = DottedNameResolver().maybe_resolve(name)
    except (ImportError, ValueError) as exc:
        raise ConfigurationError(
            f'{BACKEND_SETTING} = {name!r}: cannot import it ({exc}); expected '
            f'the dotted name of a group backend factory, e.g. '
            f'aiotao.websocket.groups.InMemoryBackend'
        ) from None
    backend = factory(settings)
    for method in ('start', 'subscribe', 'unsubscribe', 'publish', 'close'):
        if not callable(getattr(backend, method, None)):
            raise ConfigurationError(
                f'{BACKEND_SETTING} = {name!r}: {backend!r} has no {method}() '
                f'method, so it is not a group backend (see '
                f'aiotao.websocket.groups.GroupBackend)'
            )
    return backend  # type: ignore[no-any-return]


_REGISTRY_KEY = 'aiotao.websocket.groups'


def get_groups(registry: Registry) -> Groups:
    """The :class:`Groups` of the application ``registry`` (made on first use).

    >>> from pyramid.registry import Registry
    >>> registry = Registry('demo'); registry.settings = {}
    >>> get_groups(registry) is get_groups(registry)
    True
    """
    groups = registry.get(_REGISTRY_KEY)
    if groups is None:
        groups = registry[_REGISTRY_KEY] = Groups(
            backend_from_settings(getattr(registry, 'settings', None))
        )
    return groups  # type: ignore[no-any-return]


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
