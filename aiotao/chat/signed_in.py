"""The names of signed-in users, which no one else may take.

A signed-in user is called by their userid (:mod:`aiotao.chat.nicknames`).
Each time one connects, the chat records that name's skeleton
(:mod:`aiotao.chat.lookalikes`) in MongoDB; a guest may not then call
itself that name nor one that looks like it, in any room.

One collection, ``chat_signed_in_names``: ``{_id: <skeleton>, userid,
name}``.  The first userid to claim a skeleton keeps it.

::

    names = SignedInNames(lambda: request.db)
    await names.claim('ada', userid='ada')
    await names.holder('ADA')       # 'ada'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyramid.registry import Registry

from aiotao.chat.lookalikes import skeleton
from aiotao.mongo.connection import get_database

__all__ = ['SIGNED_IN_NAMES_COLLECTION', 'SignedInNames', 'get_signed_in_names']

SIGNED_IN_NAMES_COLLECTION = 'chat_signed_in_names'


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
        await self._collection().update_one(
            {'_id': folded},
            {'$setOnInsert': {'userid': userid, 'name': name}},
            upsert=True,
        )
        self._known[folded] = userid

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


_REGISTRY_KEY = 'aiotao.chat.signed_in_names'


def get_signed_in_names(registry: Registry) -> SignedInNames:
    """The application's :class:`SignedInNames` (on ``request.db``'s database)."""
    names = registry.get(_REGISTRY_KEY)
    if names is None:
        names = registry[_REGISTRY_KEY] = SignedInNames(lambda: get_database(registry))
    return names  # type: ignore[no-any-return]
