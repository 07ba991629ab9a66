"""``@cache(name, expire=seconds)`` for coroutine views and coroutine functions.

::

    from aiotao.cache import cache

    @view_config(route_name='home', renderer='home.jinja2')
    @cache('home', expire=5)
    async def home(request):
        return {'news': await request.db.news.find().to_list(20)}

    @cache('rate', expire=60)
    async def exchange_rate(currency):
        ...

    await cache.invalidate('home')            # every entry of 'home'
    await cache.invalidate('rate', 'EUR')     # the entry for exchange_rate('EUR')

``@cache`` goes under ``@view_config``, so that the view Pyramid registers
is the cached one.  Keys are described in :mod:`aiotao.cache.keys`: a view's
entry depends on its route's matchdict and query string, never on headers,
cookies or the user, so do not cache a page that differs per user.  Only the view's return value is
cached: changes it made to ``request.response`` are not replayed on a hit.

Concurrent misses of one key compute once (:mod:`aiotao.cache.singleflight`,
per process); a failed computation is raised to everyone waiting for it and
nothing is cached.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from pyramid.registry import Registry

from aiotao.cache.backend import CacheBackend, backend_for
from aiotao.cache.keys import CacheKey, encode_arguments, find_request
from aiotao.cache.responses import freeze, thaw
from aiotao.cache.singleflight import run_once
from aiotao.mappers.detection import is_async_callable

P = ParamSpec('P')
T = TypeVar('T')

CoroutineFunction = Callable[P, Coroutine[Any, Any, T]]


class Cache:
    """The :data:`cache` decorator, with :meth:`invalidate` beside it."""

    def __call__(
        self, name: str, expire: float | None = None
    ) -> Callable[[CoroutineFunction[P, T]], CoroutineFunction[P, T]]:
        """Cache the results of a coroutine function under ``name``.

        ``expire`` is in seconds; ``None`` keeps entries until the backend
        evicts them or :meth:`invalidate` drops them.
        """
        if not name or not isinstance(name, str):
            raise TypeError('@cache needs a name: @cache("home", expire=5)')
        if '|' in name:
            raise ValueError(f'@cache({name!r}): a cache name cannot contain "|"')
        if expire is not None and expire <= 0:
            raise ValueError(
                f'@cache({name!r}, expire={expire!r}): expire must be positive'
            )

        def decorate(func: CoroutineFunction[P, T]) -> CoroutineFunction[P, T]:
            if not is_async_callable(func):
                raise TypeError(
                    f'@cache({name!r}) caches coroutines: make {func!r} async def'
                )

            @functools.wraps(func)
            async def cached(*args: P.args, **kwargs: P.kwargs) -> T:
                request = find_request(args, kwargs)
                if request is not None:
                    key = CacheKey.for_request(name, request)
                    backend = backend_for(request.registry)
                else:
                    key = CacheKey.for_call(name, args, kwargs)
                    backend = backend_for()
                stored = await _lookup(
                    backend, key, expire, lambda: func(*args, **kwargs)
                )
                result: T = thaw(stored)
                return result

            # Pyramid tells (request) views from (context, request) ones by
            # their arguments and does not follow __wrapped__ to find them.
            cached.__signature__ = inspect.signature(func)  # type: ignore[attr-defined]
            return cached

        return decorate

    async def invalidate(
        self, name: str, *args: Any, registry: Registry | None = None, **kwargs: Any
    ) -> int:
        """Drop cached entries of ``name``; return how many were dropped.

        Without arguments, all of them.  With arguments, those of the call
        with these arguments: ``invalidate('rate', 'EUR')`` for a function,
        ``invalidate('article', id='3')`` for a view's matchdict (whatever
        the query string).  The backend is the current registry's, or
        ``registry``'s.
        """
        args_key = encode_arguments(name, args, kwargs) if args or kwargs else None
        return await backend_for(registry).invalidate(name, args_key)


async def _lookup(
    backend: CacheBackend,
    key: CacheKey,
    expire: float | None,
    compute: Callable[[], Coroutine[Any, Any, Any]],
) -> Any:
    hit = await backend.get(key)
    if hit is not None:
        return hit.value

    async def compute_and_store() -> Any:
        # Checked again inside the flight: a caller whose get() missed just
        # before another flight stored the value must not compute it again.
        hit = await backend.get(key)
        if hit is not None:
            return hit.value
        value = freeze(await compute())
        await backend.set(key, value, expire)
        return value

    return await run_once((id(backend), key), compute_and_store)


cache = Cache()
"""``@cache(name, expire=seconds)``; ``await cache.invalidate(name, *args)``."""
