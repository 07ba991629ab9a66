"""The in-memory cache backend: per process, bounded, least recently used out.

The default.  Each worker process has its own copy, so with several workers
a value may be computed once per worker; use the MongoDB backend to share.
At most ``max_entries`` values are kept (``cache.max_entries``, default
10000): storing one more evicts the least recently used.

Values are kept as they are, not copied: a caller that mutates a cached
``dict`` changes what the next hit returns, as with :func:`functools.lru_cache`.
(Responses are the exception: ``@cache`` stores a snapshot and hands every
caller its own :class:`~pyramid.response.Response`.)
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

from aiotao.cache.backend import Hit
from aiotao.cache.keys import CacheKey

DEFAULT_MAX_ENTRIES = 10_000


class MemoryBackend:
    """Up to ``max_entries`` values in this process.

    >>> import asyncio
    >>> backend = MemoryBackend(max_entries=1)
    >>> asyncio.run(backend.set(CacheKey('a', '[]'), 1, expire=60))
    >>> asyncio.run(backend.set(CacheKey('b', '[]'), 2, expire=60))
    >>> asyncio.run(backend.get(CacheKey('a', '[]'))) is None, len(backend)
    (True, 1)
    """

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError('max_entries must be at least 1')
        self.max_entries = max_entries
        # key -> (value, monotonic deadline or None), least recently used first
        self._entries: OrderedDict[CacheKey, tuple[Any, float | None]] = OrderedDict()
        # Under a plain WSGI server several threads (each with its own loop)
        # share the process's backend.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: CacheKey) -> Hit | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            value, deadline = entry
            if deadline is not None and deadline <= time.monotonic():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return Hit(value)

    async def set(self, key: CacheKey, value: Any, expire: float | None) -> None:
        deadline = None if expire is None else time.monotonic() + expire
        with self._lock:
            self._entries[key] = (value, deadline)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                # An expired entry nobody asks for again ages out this way too.
                self._entries.popitem(last=False)

    async def invalidate(self, name: str, args: str | None) -> int:
        with self._lock:
            doomed = [
                key
                for key in self._entries
                if key.name == name and (args is None or key.args == args)
            ]
            for key in doomed:
                del self._entries[key]
        return len(doomed)
