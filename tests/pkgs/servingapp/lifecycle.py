"""Record server lifecycle events in ``servingapp.events_file``."""

from __future__ import annotations

import os

from pyramid.events import subscriber

from aiotao.lifecycle import ServerStarted, ServerStopping


def record(registry: object, line: str) -> None:
    path = getattr(registry, 'settings', {}).get('servingapp.events_file')
    if path:
        with open(path, 'a') as events:
            events.write(f'{line} {os.getpid()}\n')


class StartupFailed(RuntimeError):
    """Raised at startup when ``servingapp.fail_startup`` is set."""


@subscriber(ServerStarted)
async def started(event: ServerStarted) -> None:
    record(event.registry, 'started')
    if event.registry.settings.get('servingapp.fail_startup'):
        raise StartupFailed('servingapp: startup failed on purpose')


@subscriber(ServerStopping)
async def stopping(event: ServerStopping) -> None:
    record(event.registry, 'stopping')
