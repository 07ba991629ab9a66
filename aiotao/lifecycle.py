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
"""

from __future__ import annotations

import asyncio
import logging

from pyramid.registry import Registry
from zope.interface import providedBy

from aiotao.awaitables import is_awaitable
from aiotao.events import notify

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


async def start(registry: Registry) -> None:
    await notify(registry, ServerStarted(registry, asyncio.get_running_loop()))


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
