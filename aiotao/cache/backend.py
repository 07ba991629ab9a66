"""What a cache backend does, and how ``@cache`` finds the configured one.

A backend stores values under :class:`~aiotao.cache.keys.CacheKey` for a
number of seconds.  ``config.include('aiotao.cache')`` registers the one the
``cache.backend`` setting names on the registry; ``@cache`` looks it up on
the request's registry for a view and on ``get_current_registry()`` (which
aiotao makes context-local, so it is the current request's or scheduled
task's) for a coroutine function.  ``config.include('aiotao')`` includes
``aiotao.cache``, so an application has its backend (in memory by
default).  A registry without one (a unit test calling a view with a
``DummyRequest``, code running outside any application) gets an in-memory
backend of its own, registered on it on first use: never one shared by the
whole process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from pyramid.registry import Registry
from pyramid.threadlocal import get_current_registry

from aiotao.cache.keys import CacheKey
from aiotao.interfaces import ICacheBackend

__all__ = ['CacheBackend', 'Hit', 'ICacheBackend', 'backend_for']


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


def backend_for(registry: Registry | None = None) -> CacheBackend:
    """The backend configured on ``registry`` (default: the current one)."""
    if registry is None:
        registry = get_current_registry()
    backend = registry.queryUtility(ICacheBackend)
    if backend is None:
        # A registry no configuration gave a backend: one of its own, so
        # that nothing cached leaks from one application (or test) to another.
        from aiotao.cache.memory import MemoryBackend

        backend = MemoryBackend()
        registry.registerUtility(backend, ICacheBackend)
    return backend  # type: ignore[no-any-return]
