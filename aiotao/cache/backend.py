"""What a cache backend does, and how ``@cache`` finds the configured one.

A backend stores values under :class:`~aiotao.cache.keys.CacheKey` for a
number of seconds.  ``config.include('aiotao.cache')`` registers the one the
``cache.backend`` setting names on the registry; ``@cache`` looks it up on
the request's registry for a view and on ``get_current_registry()`` (which
aiotao makes context-local, so it is the current request's or scheduled
task's) for a coroutine function.  A registry without one gets a
process-wide in-memory backend, so ``@cache`` also works in a unit test that
calls a view with a ``DummyRequest``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from pyramid.registry import Registry
from pyramid.threadlocal import get_current_registry
from zope.interface import Interface

from aiotao.cache.keys import CacheKey


class ICacheBackend(Interface):  # type: ignore[misc]
    """The registry's cache backend (registered by ``aiotao.cache``)."""


@dataclass(frozen=True)
class Hit:
    """A value found in the cache (which may be ``None``)."""

    value: Any


class CacheBackend(Protocol):
    async def get(self, key: CacheKey) -> Hit | None:
        """The value under ``key`` unless missing or expired."""

    async def set(self, key: CacheKey, value: Any, expire: float | None) -> None:
        """Keep ``value`` for ``expire`` seconds (``None``: until evicted)."""

    async def invalidate(self, name: str, args: str | None) -> int:
        """Drop the entries of ``name`` (only those with ``args`` if given)."""


_fallback: CacheBackend | None = None


def backend_for(registry: Registry | None = None) -> CacheBackend:
    """The backend configured on ``registry`` (default: the current one)."""
    if registry is None:
        registry = get_current_registry()
    backend = registry.queryUtility(ICacheBackend)
    if backend is not None:
        return backend  # type: ignore[no-any-return]
    global _fallback
    if _fallback is None:
        from aiotao.cache.memory import MemoryBackend

        _fallback = MemoryBackend()
    return _fallback
