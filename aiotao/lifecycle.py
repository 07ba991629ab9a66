"""Startup and shutdown of a serving process, as events.

Servers (aiotao's gunicorn worker, the ASGI adapter's lifespan) call
:func:`start` once the process is serving on its event loop and :func:`stop`
when it shuts down.  Add-ons hook in with ordinary Pyramid subscribers,
``async def`` allowed::

    from aiotao.lifecycle import ServerStarted, ServerStopping

    @subscriber(ServerStarted)
    async def open_pool(event):
        event.registry['pool'] = await make_pool()

    @subscriber(ServerStopping)
    async def close_pool(event):
        await event.registry['pool'].close()

``ServerStarted`` runs in each worker process after fork, on the loop that
serves requests: the place to create per-process clients.

Add-ons of a library use :func:`add_lifecycle_subscriber` instead, which
does not make every request look for subscribers of its own events.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from pyramid.config import Configurator
from pyramid.registry import Registry
from zope.interface import providedBy

from aiotao.awaitables import is_awaitable
from aiotao.events import call_subscribers

log = logging.getLogger(__name__)


class ServerStarted:
    """The process serves requests on ``loop`` from now on."""

    def __init__(self, registry: Registry, loop: asyncio.AbstractEventLoop) -> None:
        self.registry = registry
        self.loop = loop


class ServerStopping:
    """The process is shutting down; release what :class:`ServerStarted` made."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry


def add_lifecycle_subscriber(
    config: Configurator,
    subscriber: Callable[[Any], Any],
    event_type: type[ServerStarted] | type[ServerStopping],
    *,
    order: int = 0,
) -> None:
    """Call ``subscriber`` (``async def`` allowed) on ``event_type``.

    What ``config.add_subscriber`` does, without turning on Pyramid's
    ``registry.has_listeners``: once that is on, every request looks up
    subscribers of ``NewRequest``, ``ContextFound``, ``BeforeRender`` and
    ``NewResponse``, some 15,000 instructions a rendered request (a tenth
    of what Pyramid costs on aiotao) for events nobody listens to.  The
    two events here are notified by :func:`start` and :func:`stop` only,
    which look their subscribers up whatever the flag says.  A subscriber
    the application adds itself turns the flag on, as in Pyramid.
    ``order`` is the configuration action's (a larger one registers later,
    so its subscriber is called after the others).

    >>> add_lifecycle_subscriber(config, close_pool, ServerStopping)  # doctest: +SKIP
    """
    registry = config.registry

    def register() -> None:
        listening = registry.has_listeners
        registry.registerHandler(subscriber, (event_type,))
        registry.has_listeners = listening

    config.action(None, register, order=order)


async def start(registry: Registry) -> None:
    """Notify :class:`ServerStarted`; a failing subscriber fails the start."""
    event = ServerStarted(registry, asyncio.get_running_loop())
    await call_subscribers(
        registry.adapters.subscriptions([providedBy(event)], None), event
    )


async def stop(registry: Registry) -> None:
    """Notify :class:`ServerStopping`; a failing subscriber is logged, not fatal."""
    event = ServerStopping(registry)
    for subscriber in registry.adapters.subscriptions([providedBy(event)], None):
        try:
            result = subscriber(event)
            if is_awaitable(result):
                await result
        except Exception:
            # every subscriber gets its chance to clean up
            log.exception('aiotao: a ServerStopping subscriber failed')
