"""The client's life in a serving process: checked at start, closed at stop.

The client itself is made lazily, on first use after the fork (see
:mod:`aiotao.mongo.connection`).  When the server announces
:class:`~aiotao.lifecycle.ServerStarted`, a background ping makes it and
reports in the log whether the database answers, without delaying the start;
:class:`~aiotao.lifecycle.ServerStopping` closes it.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiotao.lifecycle import ServerStarted, ServerStopping
from aiotao.mongo.connection import get_connection
from aiotao.mongo.unavailable import check_reachable

#: How long a stopping process lets the startup check finish.
CHECK_GRACE_SECONDS = 1.0


async def on_server_started(event: ServerStarted) -> None:
    connection = get_connection(event.registry)
    # kept by the connection (the service), not in the registry's dict
    connection.check_task = event.loop.create_task(check_reachable(connection))


async def on_server_stopping(event: ServerStopping) -> None:
    connection = get_connection(event.registry)
    task, connection.check_task = connection.check_task, None
    if task is not None:
        # PyMongo 4.20 leaks a socket when a client is closed while its first
        # connection is being made.  A reachable server answers the check in
        # milliseconds: let it, and cancel only a check that waits for an
        # unreachable one.
        done, _ = await asyncio.wait({task}, timeout=CHECK_GRACE_SECONDS)
        if not done:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    await connection.close()
