"""Telling awaitables apart from plain results, cheaply.

Every stage of the async pipeline (root factories, ``__getitem__``, views,
subscribers, callbacks, security policies) may hand back either a value or an
awaitable.  :func:`inspect.isawaitable` answers that, but it ends in an
``isinstance`` check against an ABC, which is slow for the common case: a
plain :class:`~pyramid.response.Response`.  The check below asks the type
once, which is what the hot path needs.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable
from types import CoroutineType
from typing import Any, TypeVar

T = TypeVar('T')


def is_awaitable(value: object) -> bool:
    """Return ``True`` if ``value`` can be awaited.

    >>> async def f(): pass
    >>> coro = f(); is_awaitable(coro), is_awaitable(42)
    (True, False)
    >>> coro.close()
    """
    # Native coroutines are by far the most common awaitable here.
    if type(value) is CoroutineType:
        return True
    return hasattr(type(value), '__await__') or inspect.isawaitable(value)


async def resolve(value: Awaitable[T] | T) -> T:
    """Await ``value`` if it is awaitable, else return it as it is."""
    if is_awaitable(value):
        return await value  # type: ignore[no-any-return,misc]
    return value  # type: ignore[return-value]


def close_if_coroutine(value: Any) -> None:
    """Close a coroutine that will never be awaited (no 'never awaited' noise)."""
    if type(value) is CoroutineType:
        value.close()
