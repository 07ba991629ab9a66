"""Telling coroutine views from plain ones at configuration time."""

from __future__ import annotations

import functools
import inspect
from typing import Any


def is_async_callable(obj: Any) -> bool:
    """``True`` if calling ``obj`` gives a coroutine.

    Looks through :func:`functools.partial`, ``__wrapped__`` chains and an
    instance's ``__call__``; uses :func:`inspect.iscoroutinefunction`
    (``asyncio.iscoroutinefunction`` is deprecated and answers differently).

    >>> async def view(request): ...
    >>> is_async_callable(functools.partial(view)), is_async_callable(print)
    (True, False)
    """
    seen = 0
    while obj is not None and seen < 100:  # a cycle of __wrapped__ is a bug, not a hang
        seen += 1
        if isinstance(obj, functools.partial):
            obj = obj.func
            continue
        if inspect.iscoroutinefunction(obj):
            return True
        wrapped = getattr(obj, '__wrapped__', None)
        if wrapped is not None and not inspect.isclass(obj):
            obj = wrapped
            continue
        if inspect.isroutine(obj) or inspect.isclass(obj):
            return False
        # an instance: what runs is its class's __call__
        if not callable(obj):
            return False
        obj = type(obj).__call__
    return False


def is_coroutine_view(view: Any, attr: str | None = None) -> bool:
    """``True`` if the view callable Pyramid will call is a coroutine function.

    Covers every view shape Pyramid maps: functions, class views (``attr``
    or ``__call__`` of the instance the class makes) and instances.
    """
    if inspect.isclass(view):
        target = getattr(view, attr or '__call__', None)
    elif attr is not None:
        target = getattr(view, attr, None)
    else:
        target = view
    return target is not None and is_async_callable(target)
