"""The rooms' messages in MongoDB: stored before anyone hears them.

One collection, ``chat_messages``: ``{_id, room, nick, text, at}`` with an
index on ``(room, at, _id)``, which serves "the last N of a room" from the
index alone.  ``at`` is the storing worker's clock, to the millisecond
(what MongoDB keeps); ``_id`` orders messages stored in the same
millisecond.

:meth:`ChatHistory.store` returns only once MongoDB acknowledged the write
with ``w: "majority"`` (a lone server: once it has it), and the chat
acknowledges a message to its sender, and broadcasts it, only after that:
a message someone saw acknowledged is in the history, even if the worker
that stored it is killed the next instant.

::

    history = ChatHistory(lambda: request.db, size=50)
    message = await history.store('lobby', 'ada', 'hello')
    await history.recent('lobby')    # [..., message], oldest first
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, WriteConcern
from pyramid.registry import Registry
from zope.interface import implementer

from aiotao.chat.protocol import ChatMessage
from aiotao.chat.settings import get_chat_settings
from aiotao.interfaces import IChatHistory
from aiotao.mongo.connection import get_database
from aiotao.services import get_service

__all__ = ['MESSAGES_COLLECTION', 'ChatHistory', 'get_history']

MESSAGES_COLLECTION = 'chat_messages'
_NEWEST_FIRST = [('at', DESCENDING), ('_id', DESCENDING)]


def _now() -> datetime:
    now = datetime.now(UTC)
    # MongoDB keeps milliseconds: the message sent now equals the one read later
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _message(document: dict[str, Any]) -> ChatMessage:
    at = document['at']
    if at.tzinfo is None:  # the driver returns naive UTC unless tz_aware
        at = at.replace(tzinfo=UTC)
    return ChatMessage(
        id=str(document['_id']),
        room=document['room'],
        nick=document['nick'],
        text=document['text'],
        at=at,
    )


@implementer(IChatHistory)
class ChatHistory:
    """The messages of every room, in the database ``database()`` returns."""

    def __init__(self, database: Callable[[], Any], size: int = 50) -> None:
        self._database = database
        #: How many messages :meth:`recent` returns by default.
        self.size = size
        self._indexed = False

    def _collection(self) -> Any:
        return self._database().get_collection(
            MESSAGES_COLLECTION, write_concern=WriteConcern(w='majority')
        )

    async def ensure_indexes(self) -> None:
        """Create the index :meth:`recent` uses (once per process; idempotent)."""
        if not self._indexed:
            await self._collection().create_index(
                [('room', ASCENDING), ('at', ASCENDING), ('_id', ASCENDING)]
            )
            self._indexed = True

    async def store(self, room: str, nick: str, text: str) -> ChatMessage:
        """Store a message; returns once the write is acknowledged."""
        await self.ensure_indexes()
        document = {'room': room, 'nick': nick, 'text': text, 'at': _now()}
        result = await self._collection().insert_one(document)
        document['_id'] = result.inserted_id
        return _message(document)

    async def recent(self, room: str, limit: int | None = None) -> list[ChatMessage]:
        """The last ``limit`` (default :attr:`size`) messages of ``room``, oldest first."""
        limit = self.size if limit is None else limit
        if limit <= 0:
            return []
        await self.ensure_indexes()
        cursor = self._collection().find({'room': room}).sort(_NEWEST_FIRST)
        newest_first = await cursor.limit(limit).to_list(length=limit)
        return [_message(document) for document in reversed(newest_first)]


def make_history(registry: Registry) -> ChatHistory:
    """The :class:`ChatHistory` on ``registry``'s database (``request.db``'s)."""
    return ChatHistory(
        lambda: get_database(registry),
        size=get_chat_settings(registry).history_size,
    )


def get_history(registry: Registry) -> ChatHistory:
    """The application's :class:`ChatHistory` (registered by ``config.include('aiotao.chat')``)."""
    return get_service(registry, IChatHistory, 'aiotao.chat')  # type: ignore[no-any-return]
