"""The contract between the presence tracker and what carries its messages.

A :class:`PresenceChannel` carries the tracker's messages
(:mod:`aiotao.presence.wire`) to the trackers of the other processes, and
theirs to ``receive``::

    class PrintingChannel:
        connected = True
        async def start(self, receive): self.receive = receive
        async def send(self, text): print(text)
        async def close(self): ...

The channels aiotao ships are in :mod:`aiotao.presence.channels`: the
application's broadcast backend (``aiotao.broadcast``: memory, Redis or
MongoDB), and a hub connecting trackers in one process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

__all__ = ['PresenceChannel', 'Receive']

#: ``receive(text)``: hand a message from another process to the tracker.
#: Synchronous: it only updates the tracker's state and queues what to send.
Receive = Callable[[str | bytes], None]


class PresenceChannel(Protocol):
    """Carries presence messages between the processes of an application.

    * :meth:`start` runs once per process, on the loop that serves it;
      from then on what other processes send reaches ``receive`` (a message
      may also come back to its sender: the tracker drops its own).
    * :meth:`send` must not wait for the network for long: delivery is at
      most once, and the tracker recovers what was lost (numbered deltas,
      heartbeats, whole states on request).
    * :attr:`connected` is ``False`` while the channel knows it cannot
      reach the others (its broker is down): the tracker then does not
      take their silence for their death.
    """

    @property
    def connected(self) -> bool: ...

    async def start(self, receive: Receive) -> None: ...

    async def send(self, text: str) -> None: ...

    async def close(self) -> None: ...
