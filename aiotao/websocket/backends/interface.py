"""The contract between :class:`~aiotao.websocket.groups.Groups` and a backend.

:class:`~aiotao.websocket.groups.Groups` keeps who is in which group in this
process and delivers a broadcast to the local members itself, at once.  A
:class:`GroupBackend` carries each broadcast to the *other* processes (other
gunicorn workers, other machines) and hands what they broadcast to
``deliver``::

    class LoggingBackend:
        async def start(self, deliver): self.deliver = deliver
        async def subscribe(self, group): ...
        async def unsubscribe(self, group): ...
        async def publish(self, group, message): print(group, message)
        async def close(self): ...

A backend is chosen with the ``aiotao.broadcast`` setting (see
:mod:`aiotao.websocket.backends`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from aiotao.websocket.transport import Message

__all__ = ['Deliver', 'GroupBackend']

#: ``deliver(group, message)``: hand a message from another process to the
#: local members of ``group``; returns how many got it.  It only queues.
Deliver = Callable[[str, Message], int]


class GroupBackend(Protocol):
    """Carries broadcasts between the processes that have group members.

    * :meth:`start` runs once per process, on the loop that serves it (after
      gunicorn forked the worker): the place to connect, in the background.
    * :meth:`subscribe` is called when the first local member joins a group,
      :meth:`unsubscribe` when the last one leaves.  Once ``subscribe``
      returns, messages other processes publish to the group reach
      ``deliver`` (unless the broker is down: then it returns at once and the
      backend subscribes again when the broker is back).
    * :meth:`publish` carries a message to the other processes.  It must
      not wait for the network for long: a view awaits it.  Local members
      already have the message; a backend drops its own messages when they
      come back from the broker.
    * ``deliver`` only queues.  A backend that receives messages in a task
      lets the loop run between two deliveries, so that connections pass
      each message to their sockets before the next.
    * :meth:`close` stops every task and closes every connection.
    * Optionally, an ``on_resync`` attribute: :class:`~aiotao.websocket.groups.Groups`
      sets it to a callable, and the backend calls ``on_resync(groups)``
      once it is subscribed again after losing its broker, with the
      groups whose broadcasts may have been lost meanwhile (the Redis and
      MongoDB backends do, see :mod:`~aiotao.websocket.backends.broker`).
    """

    async def start(self, deliver: Deliver) -> None: ...

    async def subscribe(self, group: str) -> None: ...

    async def unsubscribe(self, group: str) -> None: ...

    async def publish(self, group: str, message: Message) -> None: ...

    async def close(self) -> None: ...
