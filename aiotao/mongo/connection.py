"""One MongoDB client per process and event loop, made on first use.

A driver client owns sockets, monitor tasks and a pool bound to the event
loop it first ran on, so it must never cross a ``fork()`` (gunicorn forks its
workers from the master that loaded the app) nor be used from another loop.
:class:`MongoConnection` therefore makes clients lazily, keyed by the
process id and the loop: under aiotao's worker that is one client per
worker process, shared by all its requests; under a plain WSGI server each
thread's private loop gets its own.

Applications reach the client through the request (``request.db``,
``request.mongo_client``) or, outside a request, through the registry::

    from aiotao.mongo import get_database

    async def cleanup(run):
        await get_database(run.registry).sessions.delete_many({'stale': True})
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import Any

from pyramid.registry import Registry

from aiotao.awaitables import is_awaitable
from aiotao.interfaces import IMongoConnection as IMongoConnection
from aiotao.mongo.settings import MongoSettings
from aiotao.sync import request_loop

log = logging.getLogger('aiotao.mongo')


class MongoConnection:
    """Hands out this process's client for the current event loop."""

    def __init__(self, settings: MongoSettings) -> None:
        self.settings = settings
        self._pid = os.getpid()
        self._clients: dict[asyncio.AbstractEventLoop, Any] = {}
        self._inherited: list[Any] = []
        # Sync views run in worker threads and may touch request.db there.
        self._lock = threading.Lock()
        #: The startup check of the serving process (:mod:`aiotao.mongo.lifecycle`).
        self.check_task: asyncio.Task[None] | None = None

    def client(self) -> Any:
        """The client for the running loop (or the current request's loop)."""
        loop = _current_loop()
        with self._lock:
            if self._pid != os.getpid():
                # Forked: the parent's clients hold the parent's sockets and
                # loop.  Never use them, and never close them (that is the
                # parent's job): kept aside, so that the garbage collector
                # does not close their copies of the sockets either.
                self._inherited.extend(self._clients.values())
                self._clients = {}
                self._pid = os.getpid()
            client = self._clients.get(loop)
            if client is None:
                for stale in [old for old in self._clients if old.is_closed()]:
                    del self._clients[stale]
                client = self._clients[loop] = self.settings.make_client()
                log.info(
                    'aiotao.mongo: new %s for %s in process %d',
                    type(client).__name__,
                    self.settings.display_uri,
                    self._pid,
                )
            return client

    def database(self) -> Any:
        """The configured database (``mongo.db`` or the URI's) on :meth:`client`."""
        return self.client()[self.settings.database_name]

    async def close(self) -> None:
        """Close the client of the running loop, if one was made."""
        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._clients.pop(loop, None) if self._pid == os.getpid() else None
        if client is not None:
            result = client.close()  # a coroutine for PyMongo, None for Motor
            if is_awaitable(result):
                await result


def _current_loop() -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        pass
    loop = request_loop()  # a sync view, in its request's thread
    if loop is None:
        raise RuntimeError(
            'the MongoDB client is asynchronous and needs an event loop: use '
            'request.db in an async def view (or get_database() in a coroutine)'
        )
    return loop


def get_connection(registry: Registry) -> MongoConnection:
    connection = registry.queryUtility(IMongoConnection)
    if connection is None:
        raise RuntimeError(
            "MongoDB is not configured: set mongo.uri and include 'aiotao' "
            "(or config.include('aiotao.mongo')), then commit the configuration "
            '(config.make_wsgi_app() does)'
        )
    return connection  # type: ignore[no-any-return]


def get_client(registry: Registry) -> Any:
    """This process's client for the running loop.

    >>> client = get_client(request.registry)           # doctest: +SKIP
    >>> async with client.start_session() as session:   # doctest: +SKIP
    ...     ...
    """
    return get_connection(registry).client()


def get_database(registry: Registry) -> Any:
    """The configured database, for code that has a registry but no request.

    >>> await get_database(registry).events.insert_one({'kind': 'tick'})  # doctest: +SKIP
    """
    return get_connection(registry).database()
