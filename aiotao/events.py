"""Event notification that awaits ``async def`` subscribers.

Pyramid's ``registry.notify`` calls every subscriber and throws the results
away, so an ``async def`` subscriber would only produce a coroutine that never
runs.  :func:`notify` looks the subscribers up the same way (predicates
included, since Pyramid wraps them into the registered callable) and awaits
the ones that return awaitables, in registration order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pyramid.registry import Registry
from zope.interface import providedBy

from aiotao.awaitables import is_awaitable


async def notify(registry: Registry, *events: object) -> None:
    """Notify ``events`` to their subscribers, awaiting async ones.

    Use it for application events in async code::

        from aiotao import notify

        async def checkout(request):
            ...
            await notify(request.registry, OrderPlaced(order))
    """
    if not registry.has_listeners:
        return
    provided = [providedBy(event) for event in events]
    await call_subscribers(registry.adapters.subscriptions(provided, None), *events)


async def call_subscribers(subscribers: Sequence[Any], *events: object) -> None:
    """Call already-looked-up ``subscribers``, awaiting async ones, in order."""
    for subscriber in subscribers:
        result = subscriber(*events)
        if is_awaitable(result):
            await result
