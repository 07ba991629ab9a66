"""A lease in MongoDB: which worker, of all processes on all machines, runs a task.

A ``single`` task runs where its lease is held.  The lease is one document::

    {'_id': 'schedule:digest', 'owner': 'web-3:4121:9f2c…', 'expires': datetime}

A worker takes it when it is free or expired, and its holder renews it every
third of its duration.  A holder that dies stops renewing, and another
worker takes over once the lease expires; a holder that cannot reach the
database stops considering itself the holder when its own copy of the
deadline passes, so two workers never run the task at once (unless one run
outlasts the lease while the database is unreachable).  A worker that stops
releases its lease at once.

``expires`` is written by the worker's clock, so the machines' clocks must
agree to well within the duration (15 s), as NTP keeps them.  (The server's
``$$NOW`` would avoid that, but SecantusDB, the development server, compares
it wrongly with stored dates.)

>>> lease = Lease(registry, 'schedule:digest')          # doctest: +SKIP
>>> await lease.try_acquire()                            # doctest: +SKIP
True
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import socket
import time
import uuid
from typing import Any

from pymongo.errors import DuplicateKeyError, PyMongoError
from pyramid.registry import Registry

from aiotao.mongo import get_database

log = logging.getLogger('aiotao.schedule')

COLLECTION = 'aiotao_leases'
DEFAULT_DURATION = 15.0


def owner_id() -> str:
    """Who holds a lease: host, process and a random part (pids are reused)."""
    return f'{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}'


class Lease:
    def __init__(
        self, registry: Registry, lease_id: str, duration: float = DEFAULT_DURATION
    ) -> None:
        self.registry = registry
        self.lease_id = lease_id
        self.duration = duration
        self.owner = owner_id()
        self._held_until = 0.0  # time.monotonic() deadline, by our own clock
        self._reachable = True
        self._acquired = asyncio.Event()

    @property
    def held(self) -> bool:
        return time.monotonic() < self._held_until

    async def wait_held(self) -> None:
        """Return once this process holds the lease (at once if it does)."""
        while not self.held:
            self._acquired.clear()
            await self._acquired.wait()

    @property
    def seconds_left(self) -> float:
        """How long the lease is ours by our own clock, unless renewed (0: not)."""
        return max(0.0, self._held_until - time.monotonic())

    def _collection(self) -> Any:
        return get_database(self.registry)[COLLECTION]

    async def try_acquire(self) -> bool:
        """Take or renew the lease; ``True`` if this process holds it now."""
        asked_at = time.monotonic()
        now = datetime.datetime.now(datetime.UTC)
        expired_or_mine = {
            '_id': self.lease_id,
            '$or': [{'owner': self.owner}, {'expires': {'$lte': now}}],
        }
        take = {
            '$set': {
                'owner': self.owner,
                'expires': now + datetime.timedelta(seconds=self.duration),
            }
        }
        try:
            await self._collection().update_one(expired_or_mine, take, upsert=True)
        except DuplicateKeyError:
            # Held by someone else: the filter missed and the upsert collided.
            self._held_until = 0.0
            return False
        except PyMongoError as exc:
            if self._reachable:
                log.warning(
                    'aiotao.schedule: cannot renew lease %s: %s', self.lease_id, exc
                )
            self._reachable = False
            return self.held
        self._reachable = True
        # Counted from before the request: the server's deadline is later.
        self._held_until = asked_at + self.duration
        self._acquired.set()
        return True

    async def release(self) -> None:
        """Give the lease up now (if held), so another worker takes over."""
        self._held_until = 0.0
        try:
            await self._collection().delete_one(
                {'_id': self.lease_id, 'owner': self.owner}
            )
        except PyMongoError as exc:
            log.warning(
                'aiotao.schedule: cannot release lease %s: %s', self.lease_id, exc
            )
