"""What carries presence between processes: the broadcast backend, or a hub in one process.

* :class:`GroupsChannel`: the application's websocket groups
  (:mod:`aiotao.websocket.groups`), so presence goes wherever the
  ``aiotao.broadcast`` backend carries broadcasts: one process with
  ``memory``, every worker and machine with Redis pub/sub or MongoDB
  change streams.  It is what :func:`aiotao.presence.get_presence` uses.
* :class:`MemoryHub`: trackers in one process, each with its own channel,
  talking without a broker: the way to run several replicas in a test,
  and to cut one off.

>>> import asyncio
>>> hub = MemoryHub()
>>> heard = []
>>> one, two = hub.channel(), hub.channel()
>>> async def main():
...     await one.start(heard.append)
...     await two.start(lambda text: None)
...     await two.send('hi')
>>> asyncio.run(main()); heard
['hi']
"""

from __future__ import annotations

import logging

from aiotao.presence.interface import Receive
from aiotao.websocket.groups import Groups
from aiotao.websocket.transport import Message

__all__ = ['GROUP', 'GroupsChannel', 'MemoryChannel', 'MemoryHub']

log = logging.getLogger(__name__)

#: The websocket group the trackers of an application talk in.
GROUP = 'aiotao.presence'


class GroupsChannel:
    """Presence through the application's groups and their broadcast backend.

    The channel is a member of the group :data:`GROUP`, as a websocket
    connection would be: what any process broadcasts there reaches
    ``receive`` in every process.
    """

    def __init__(self, groups: Groups, group: str = GROUP) -> None:
        self.groups = groups
        self.group = group
        self._receive: Receive | None = None

    @property
    def connected(self) -> bool:
        # the in-memory backend has no broker: always "connected"
        return bool(getattr(self.groups.backend, 'connected', True))

    # -- what Groups needs of a member -----------------------------------------

    @property
    def is_open(self) -> bool:
        return self._receive is not None

    def send_nowait(self, data: Message) -> bool:
        receive = self._receive
        if receive is None:
            return False
        try:
            receive(data)
        except Exception:  # one bad message must not stop the deliveries
            log.exception('aiotao.presence: a message could not be handled')
        return True

    # -- the PresenceChannel protocol --------------------------------------

    async def start(self, receive: Receive) -> None:
        self._receive = receive
        await self.groups.join(self.group, self)

    async def send(self, text: str) -> None:
        await self.groups.broadcast(self.group, text)

    async def close(self) -> None:
        self._receive = None
        await self.groups.leave(self.group, self)


class MemoryHub:
    """Channels that reach each other in one process (see the module example)."""

    def __init__(self) -> None:
        self.channels: list[MemoryChannel] = []

    def channel(self) -> MemoryChannel:
        """A new channel on this hub."""
        channel = MemoryChannel(self)
        self.channels.append(channel)
        return channel


class MemoryChannel:
    """One tracker's end of a :class:`MemoryHub`.

    Messages reach the others at once, in order.  A test cuts a channel off
    with :attr:`connected` = ``False`` (it neither sends nor receives, as
    with a broker down) or takes it off the hub for good with
    :meth:`close`.
    """

    def __init__(self, hub: MemoryHub) -> None:
        self.hub = hub
        self.connected = True
        self._receive: Receive | None = None

    async def start(self, receive: Receive) -> None:
        self._receive = receive

    async def send(self, text: str) -> None:
        if not self.connected:
            return
        for channel in list(self.hub.channels):
            if channel is not self and channel.connected and channel._receive:
                channel._receive(text)

    async def close(self) -> None:
        self._receive = None
        if self in self.hub.channels:
            self.hub.channels.remove(self)
