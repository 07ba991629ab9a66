"""The names of signed-in users, which no one else may take.

A signed-in user is called by their userid (:mod:`aiotao.chat.nicknames`).
Each time one connects, the chat records that name's skeleton
(:mod:`aiotao.chat.lookalikes`); a guest may not then call itself that
name nor one that looks like it, in any room.  The first userid to claim a
skeleton keeps it.

This is what the chat's presence (:mod:`aiotao.chat.presence`) keeps
beyond who is connected, and the ``aiotao.chat.presence`` setting says
where (an :class:`~aiotao.interfaces.ISignedInNames`):

* ``mongodb`` (the default): :class:`SignedInNames`, the collection
  ``chat_signed_in_names`` (``{_id: <skeleton>, userid, name}``) of the
  application's database (``mongo.uri``);
* ``memory``: :class:`MemorySignedInNames`, this process only (tests, one
  worker): a name claimed on one worker is free on the others;
* a Redis URL: :class:`RedisSignedInNames`, one key per skeleton
  (``aiotao:chat:signed_in:<skeleton>``, no expiry).

::

    names = SignedInNames(lambda: request.db)
    await names.claim('ada', userid='ada')
    await names.holder('ADA')       # 'ada'
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any, Protocol

from pymongo import ReturnDocument
from pyramid.registry import Registry
from zope.interface import implementer

from aiotao.chat.lookalikes import skeleton
from aiotao.interfaces import ISignedInNames
from aiotao.mongo.connection import get_database
from aiotao.services import get_service

__all__ = [
    'REDIS_PREFIX',
    'SIGNED_IN_NAMES_COLLECTION',
    'MemorySignedInNames',
    'MongoSignedInNames',
    'RedisSignedInNames',
    'SignedInNames',
    'SignedInNamesStore',
    'get_signed_in_names',
    'signed_in_names_for',
]

SIGNED_IN_NAMES_COLLECTION = 'chat_signed_in_names'
REDIS_PREFIX = 'aiotao:chat:signed_in:'


class SignedInNamesStore(Protocol):
    """What the chat's presence needs of where the names are kept."""

    async def claim(self, name: str, userid: str) -> None: ...

    async def holder(self, name: str) -> str | None: ...

    async def close(self) -> None: ...


@implementer(ISignedInNames)
class MemorySignedInNames:
    """The names signed-in users are known by, in this process.

    >>> import asyncio
    >>> names = MemorySignedInNames()
    >>> asyncio.run(names.claim('ada', userid='ada'))
    >>> asyncio.run(names.claim('ADA', userid='eve'))   # taken: ada keeps it
    >>> asyncio.run(names.holder('Ada'))
    'ada'
    """

    def __init__(self) -> None:
        self._holders: dict[str, str] = {}

    async def claim(self, name: str, userid: str) -> None:
        """Record that the signed-in ``userid`` is called ``name``."""
        self._holders.setdefault(skeleton(name), userid)

    async def holder(self, name: str) -> str | None:
        """The userid of the signed-in user called ``name`` or a look-alike, if any."""
        return self._holders.get(skeleton(name))

    async def close(self) -> None:
        """Nothing to close."""


@implementer(ISignedInNames)
class RedisSignedInNames:
    """The names signed-in users are known by, in Redis (``prefix + skeleton`` -> userid).

    The client is made in the process and on the loop that uses it
    (gunicorn forks workers after loading the application).
    """

    def __init__(self, url: str, *, prefix: str = REDIS_PREFIX) -> None:
        self.url = url
        self.prefix = prefix
        #: skeleton -> userid, as far as this process has seen (a claim is forever)
        self._known: dict[str, str] = {}
        self._client: Any = None
        self._client_in: tuple[int, asyncio.AbstractEventLoop] | None = None

    def _redis(self) -> Any:
        here = (os.getpid(), asyncio.get_running_loop())
        if self._client is None or self._client_in != here:
            import redis.asyncio

            self._client = redis.asyncio.Redis.from_url(self.url)
            self._client_in = here
        return self._client

    async def claim(self, name: str, userid: str) -> None:
        """Record that the signed-in ``userid`` is called ``name``."""
        folded = skeleton(name)
        if self._known.get(folded) == userid:
            return
        redis = self._redis()
        if await redis.set(self.prefix + folded, userid, nx=True):
            self._known[folded] = userid
        else:  # someone had it: the first claim keeps the name
            held = await redis.get(self.prefix + folded)
            if held is not None:
                self._known[folded] = held.decode()

    async def holder(self, name: str) -> str | None:
        """The userid of the signed-in user called ``name`` or a look-alike, if any."""
        folded = skeleton(name)
        known = self._known.get(folded)
        if known is not None:
            return known
        userid = await self._redis().get(self.prefix + folded)
        if userid is None:
            return None
        held: str = userid.decode()
        self._known[folded] = held
        return held

    async def close(self) -> None:
        """Close this process's client, if one was made."""
        client, self._client, self._client_in = self._client, None, None
        if client is not None:
            await client.aclose()


@implementer(ISignedInNames)
class SignedInNames:
    """The names signed-in users are known by, in the database ``database()`` returns."""

    def __init__(self, database: Callable[[], Any]) -> None:
        self._database = database
        #: skeleton -> userid, as far as this process has seen
        self._known: dict[str, str] = {}

    def _collection(self) -> Any:
        return self._database()[SIGNED_IN_NAMES_COLLECTION]

    async def claim(self, name: str, userid: str) -> None:
        """Record that the signed-in ``userid`` is called ``name``."""
        folded = skeleton(name)
        if self._known.get(folded) == userid:
            return
        document = await self._collection().find_one_and_update(
            {'_id': folded},
            {'$setOnInsert': {'userid': userid, 'name': name}},
            projection={'userid': 1},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        # the holder, who may be someone else: the first claim keeps the name
        self._known[folded] = document['userid']

    async def holder(self, name: str) -> str | None:
        """The userid of the signed-in user called ``name`` or a look-alike, if any."""
        folded = skeleton(name)
        known = self._known.get(folded)
        if known is not None:
            return known
        document = await self._collection().find_one({'_id': folded}, {'userid': 1})
        if document is None:
            return None
        self._known[folded] = document['userid']
        return str(document['userid'])

    async def close(self) -> None:
        """Nothing to close: the client is the application's (``aiotao.mongo``)."""


#: The MongoDB implementation, by the name of its kind.
MongoSignedInNames = SignedInNames


def signed_in_names_for(presence: str, registry: Registry | None) -> SignedInNamesStore:
    """The :class:`~aiotao.interfaces.ISignedInNames` the ``aiotao.chat.presence`` value names.

    >>> type(signed_in_names_for('memory', None)).__name__
    'MemorySignedInNames'
    """
    if presence == 'memory':
        return MemorySignedInNames()
    if presence == 'mongodb':
        if registry is None:
            raise ValueError('the mongodb store needs the application registry')
        application = registry
        return SignedInNames(lambda: get_database(application))
    return RedisSignedInNames(presence)


def get_signed_in_names(registry: Registry) -> SignedInNamesStore:
    """The application's :class:`~aiotao.interfaces.ISignedInNames` (``aiotao.chat.presence``)."""
    return get_service(registry, ISignedInNames, 'aiotao.chat')  # type: ignore[no-any-return]
