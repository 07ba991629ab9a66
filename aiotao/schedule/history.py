"""The last run of each ``single`` task, kept in MongoDB across restarts.

One document per task, in the ``aiotao_schedule`` collection::

    {'_id': 'digest', 'last_due': datetime, 'owner': 'web-3:4121:9f2c…',
     'started': datetime, 'finished': datetime, 'outcome': 'ok'}

``last_due`` is the due time of the last run that was started.  A worker
that takes a task over (after a restart, a deploy, its holder's death)
reads it and runs at once if a due time passed since (once, however many
passed: :meth:`~aiotao.schedule.schedules.Schedule.last_due`), then keeps
to the schedule.  A task that has no document yet gets one saying "last
due now", so the first run is a full period after the first start, and a
restart never moves it.

Starting a run *claims* its due time: the document is updated only if its
``last_due`` is earlier, in one atomic update, so each due time runs at
most once, whatever the workers believe about the lease (a paused
process, clocks that disagree).  The claim is made before the run: a run
cut short by a crash is not repeated (at most once, not at least once).

Times are stored to the millisecond, as BSON dates are; every due time is
rounded down to the millisecond before it is compared or claimed, so that
the same due time computed twice is the same value.

>>> history = RunHistory(registry)                                # doctest: +SKIP
>>> last = await history.last_due('digest', now)                # doctest: +SKIP
>>> await history.claim('digest', due, owner='web-3:4121:9f2c')  # doctest: +SKIP
True
"""

from __future__ import annotations

import datetime
from typing import Any

from pymongo import ReturnDocument
from pyramid.registry import Registry

from aiotao.mongo import get_database

__all__ = ['COLLECTION', 'RunHistory', 'to_milliseconds']

COLLECTION = 'aiotao_schedule'


def to_milliseconds(moment: datetime.datetime) -> datetime.datetime:
    """``moment`` rounded down to the millisecond, aware and in UTC.

    >>> to_milliseconds(datetime.datetime(2025, 1, 1, 0, 0, 0, 123456))
    datetime.datetime(2025, 1, 1, 0, 0, 0, 123000, tzinfo=datetime.timezone.utc)
    """
    if moment.tzinfo is None:  # PyMongo's default: naive datetimes in UTC
        moment = moment.replace(tzinfo=datetime.UTC)
    moment = moment.astimezone(datetime.UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class RunHistory:
    """The ``aiotao_schedule`` collection of an application's database."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def _collection(self) -> Any:
        return get_database(self.registry)[COLLECTION]

    async def last_due(self, task: str, now: datetime.datetime) -> datetime.datetime:
        """The last claimed due time of ``task``; ``now`` for a task never run."""
        document = await self._collection().find_one_and_update(
            {'_id': task},
            {'$setOnInsert': {'last_due': to_milliseconds(now)}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return to_milliseconds(document['last_due'])

    async def claim(self, task: str, due: datetime.datetime, owner: str) -> bool:
        """Take ``due`` for a run of ``task``; ``False`` if it was taken already."""
        due = to_milliseconds(due)
        started = to_milliseconds(datetime.datetime.now(datetime.UTC))
        result = await self._collection().update_one(
            {'_id': task, 'last_due': {'$lt': due}},
            {
                '$set': {
                    'last_due': due,
                    'owner': owner,
                    'started': started,
                    'outcome': 'running',
                },
                '$unset': {'finished': ''},
            },
        )
        return bool(result.modified_count == 1)

    async def finish(
        self, task: str, due: datetime.datetime, owner: str, outcome: str
    ) -> None:
        """Note how the run of ``due`` ended (``ok``, ``failed``, ``cancelled``)."""
        await self._collection().update_one(
            {'_id': task, 'last_due': to_milliseconds(due), 'owner': owner},
            {
                '$set': {
                    'finished': to_milliseconds(datetime.datetime.now(datetime.UTC)),
                    'outcome': outcome,
                }
            },
        )
