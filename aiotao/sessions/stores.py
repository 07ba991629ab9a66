"""Where sessions live: one process's memory, or Redis shared by every worker.

A store keeps each session's state (a JSON-able ``dict``) under its id,
for ``timeout`` seconds after it was last saved::

    class SessionStore(Protocol):
        async def load(self, id): ...            # the state, or None
        async def save(self, id, state, timeout): ...
        async def delete(self, id): ...
        async def close(self): ...

:class:`MemorySessionStore` serves one process (tests, one worker);
:class:`RedisSessionStore` is for several workers or machines: each
session is one Redis key with an expiry, so a logout made on one worker is
what every other worker reads next.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any, Protocol

__all__ = ['MemorySessionStore', 'RedisSessionStore', 'SessionStore']


class SessionStore(Protocol):
    async def load(self, id: str) -> dict[str, Any] | None: ...

    async def save(self, id: str, state: dict[str, Any], timeout: float) -> None: ...

    async def delete(self, id: str) -> None: ...

    async def close(self) -> None: ...


class MemorySessionStore:
    """Sessions in this process's memory (one worker; lost on restart).

    >>> store = MemorySessionStore()
    >>> asyncio.run(store.save('s1', {'data': {'a': 1}}, timeout=60))
    >>> asyncio.run(store.load('s1'))
    {'data': {'a': 1}}
    """

    def __init__(self) -> None:
        self._states: dict[str, tuple[float, str]] = {}

    async def load(self, id: str) -> dict[str, Any] | None:
        kept = self._states.get(id)
        if kept is None:
            return None
        expires, encoded = kept
        if expires <= time.monotonic():
            del self._states[id]
            return None
        # a copy, as from a real store: the caller's changes are not saved by accident
        state: dict[str, Any] = json.loads(encoded)
        return state

    async def save(self, id: str, state: dict[str, Any], timeout: float) -> None:
        self._states[id] = (time.monotonic() + timeout, json.dumps(state))
        if len(self._states) % 1024 == 0:
            self._sweep()

    async def delete(self, id: str) -> None:
        self._states.pop(id, None)

    async def close(self) -> None:
        pass

    def _sweep(self) -> None:
        now = time.monotonic()
        for id in [id for id, (expires, _) in self._states.items() if expires <= now]:
            del self._states[id]


class RedisSessionStore:
    """Sessions in Redis: ``PREFIX + id`` holds the state as JSON, with an expiry.

    The client is made in the process and on the loop that uses it (gunicorn
    forks workers after loading the application).
    """

    def __init__(self, url: str, *, prefix: str = 'aiotao:session:') -> None:
        self.url = url
        self.prefix = prefix
        self._client: Any = None
        self._client_in: tuple[int, asyncio.AbstractEventLoop] | None = None

    def _redis(self) -> Any:
        here = (os.getpid(), asyncio.get_running_loop())
        if self._client is None or self._client_in != here:
            import redis.asyncio

            self._client = redis.asyncio.Redis.from_url(self.url)
            self._client_in = here
        return self._client

    async def load(self, id: str) -> dict[str, Any] | None:
        encoded = await self._redis().get(self.prefix + id)
        if encoded is None:
            return None
        state: dict[str, Any] = json.loads(encoded)
        return state

    async def save(self, id: str, state: dict[str, Any], timeout: float) -> None:
        await self._redis().set(
            self.prefix + id, json.dumps(state), px=max(1, int(timeout * 1000))
        )

    async def delete(self, id: str) -> None:
        await self._redis().delete(self.prefix + id)

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
