"""Several "processes" in one test: each a :class:`Groups` with a backend of its own.

Two backends on one loop are two processes to the broker: each has its own
connections and its own origin id.  Their members are :class:`Member`
dummies that record what they receive.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiotao.websocket.backends import backend_from_settings
from aiotao.websocket.groups import Groups
from aiotao.websocket.transport import Message

#: Short timeouts: an outage is noticed and recovered within a test's patience.
QUICK = {'aiotao.broadcast.timeout': '1', 'aiotao.broadcast.retry_max': '0.5'}


class Member:
    """A group member that records what it receives."""

    is_open = True

    def __init__(self) -> None:
        self.received: list[Message] = []

    def send_nowait(self, data: Message) -> bool:
        self.received.append(data)
        return True


async def wait_for(condition: Callable[[], object], timeout: float = 10) -> None:
    """Wait until ``condition()`` is true; fail after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


@asynccontextmanager
async def process(settings: dict[str, Any]) -> AsyncIterator[Groups]:
    """The groups of one "process", closed at the end."""
    groups = Groups(backend_from_settings({**QUICK, **settings}))
    try:
        yield groups
    finally:
        await groups.close()


async def member_of(groups: Groups, group: str = 'room') -> Member:
    member = Member()
    await groups.join(group, member)
    return member
