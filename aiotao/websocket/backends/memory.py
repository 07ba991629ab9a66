"""The default backend: one process, nothing to carry (``aiotao.broadcast = memory``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiotao.websocket.backends.interface import Deliver
from aiotao.websocket.transport import Message

__all__ = ['InMemoryBackend']


class InMemoryBackend:
    """One process: its members already got every broadcast from :class:`Groups`.

    Right for a single worker (``gunicorn -w 1``, the development server);
    with several workers each one's members only see that worker's
    broadcasts: use Redis or MongoDB (see :mod:`aiotao.websocket.backends`).

    >>> import asyncio
    >>> asyncio.run(InMemoryBackend().publish('room', 'hi'))  # no other process
    """

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        self.deliver: Deliver | None = None

    async def start(self, deliver: Deliver) -> None:
        self.deliver = deliver

    async def subscribe(self, group: str) -> None:
        pass

    async def unsubscribe(self, group: str) -> None:
        pass

    async def publish(self, group: str, message: Message) -> None:
        pass

    async def close(self) -> None:
        self.deliver = None
