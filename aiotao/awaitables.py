"""Telling awaitables apart from plain results, cheaply.

Every stage of the async pipeline (root factories, ``__getitem__``, views,
subscribers, callbacks, security policies) may hand back either a value or an
awaitable.  :func:`inspect.isawaitable` answers that, but through an
``isinstance`` check against an ABC, which is slow for the common case of a
plain :class:`~pyramid.response.Response`.  Here the answer is cached per
type; only generators need a look at the instance (a ``@types.coroutine``
generator is awaitable, an ordinary one is not).
"""

from __future__ import annotations

import inspect
from types import CoroutineType, GeneratorType
from typing import Any

_awaitable_types: dict[type, bool] = {CoroutineType: True}


def is_awaitable(value: object) -> bool:
    """Return ``True`` if ``value`` can be awaited.

    >>> async def f(): pass
    >>> coro = f(); is_awaitable(coro), is_awaitable(42)
    (True, False)
    >>> coro.close()
    """
    kind = type(value)
    known = _awaitable_types.get(kind)
    if known is not None:
        return known
    if kind is GeneratorType:
        return inspect.isawaitable(value)
    known = hasattr(kind, '__await__')
    _awaitable_types[kind] = known
    return known


def close_if_coroutine(value: Any) -> None:
    """Close a coroutine that will never be awaited (no 'never awaited' noise)."""
    if type(value) is CoroutineType:
        value.close()
