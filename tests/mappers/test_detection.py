"""Telling coroutine views apart, whatever their shape."""

from __future__ import annotations

import functools
from typing import Any

from aiotao.mappers import is_async_callable, is_coroutine_view


async def coroutine_view(request: Any) -> None: ...


def sync_view(request: Any) -> None: ...


class AsyncCall:
    async def __call__(self, request: Any) -> None: ...


class Views:
    def __init__(self, request: Any) -> None: ...

    async def show(self) -> None: ...

    def legacy(self) -> None: ...


def sync_decorator(view: Any) -> Any:
    @functools.wraps(view)
    def wrapper(*args: Any) -> Any:
        return view(*args)

    return wrapper


def test_functions_partials_and_wrapped() -> None:
    assert is_async_callable(coroutine_view)
    assert not is_async_callable(sync_view)
    assert is_async_callable(functools.partial(coroutine_view))
    assert is_async_callable(functools.partial(functools.partial(coroutine_view)))
    assert is_async_callable(sync_decorator(coroutine_view))
    assert not is_async_callable(sync_decorator(sync_view))


def test_instances_and_classes() -> None:
    assert is_async_callable(AsyncCall())
    assert is_coroutine_view(AsyncCall())
    assert is_coroutine_view(Views, attr='show')
    assert not is_coroutine_view(Views, attr='legacy')
    assert is_coroutine_view(Views(None), attr='show')
    assert not is_coroutine_view(Views)  # no async __call__


def test_a_cycle_of_wrapped_does_not_hang() -> None:
    def looped(request: Any) -> None: ...

    looped.__wrapped__ = looped  # type: ignore[attr-defined]
    assert not is_async_callable(looped)
