"""MongoDB change streams between processes: ``aiotao.broadcast = mongodb``.

For applications that already run MongoDB (``mongo.uri``) and no Redis.  A
broadcast is a document inserted into a capped collection
(``aiotao.broadcast.collection``, created with
``aiotao.broadcast.collection_size`` bytes if it does not exist); every
process watches the collection's inserts with a change stream, on the
application's client (:mod:`aiotao.mongo`: one per process, made after
fork)::

    [app:main]
    mongo.uri = mongodb://127.0.0.1:27017/shop
    aiotao.broadcast = mongodb

One stream per process carries every group: a process skips the groups it
has no member in, and the server filters out its own inserts
(``fullDocument.origin``).  Documents keep the message's type (``str``, or
``bytes`` as BSON binary).

**Outages.**  After each change the process keeps the stream's resume
token.  When the connection is lost it reconnects (see
:mod:`~aiotao.websocket.backends.broker`) and resumes after that token, so
the messages other processes published while it was cut off arrive late
rather than never, as long as the server still holds them (MongoDB: its
oplog window; the capped collection bounds how much broadcasts take on
disk).  If the token is too old the stream starts afresh and says so in
the log.  Change streams need a replica set (a single-node one will do) or
SecantusDB, the development server.  The client must be PyMongo's
``AsyncMongoClient`` (the default ``mongo.client_class``).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from pymongo.errors import OperationFailure

from aiotao.mongo.connection import MongoConnection
from aiotao.websocket.backends.broker import BrokerBackend, summary
from aiotao.websocket.backends.settings import BroadcastSettings
from aiotao.websocket.transport import Message

__all__ = ['MongoDBBackend']

log = logging.getLogger('aiotao.broadcast')

_NAMESPACE_EXISTS = 48
#: How long a getMore on the stream waits for changes before it returns.
_MAX_AWAIT_MS = 1000


class MongoDBBackend(BrokerBackend):
    """Broadcasts through a capped collection and a change stream.

    ``connection`` is the application's
    :class:`~aiotao.mongo.connection.MongoConnection`; with
    ``owns_connection=True`` the backend closes its client when it closes.

    >>> from aiotao.mongo.settings import read_settings as mongo_settings
    >>> from aiotao.websocket.backends.settings import read_settings
    >>> settings = {'mongo.uri': 'mongodb://127.0.0.1:27017/shop', 'aiotao.broadcast': 'mongodb'}
    >>> backend = MongoDBBackend(read_settings(settings), MongoConnection(mongo_settings(settings)))
    >>> backend.broker
    'MongoDB at mongodb://127.0.0.1:27017/shop, collection aiotao_broadcast'
    """

    def __init__(
        self,
        settings: BroadcastSettings,
        connection: MongoConnection,
        *,
        owns_connection: bool = False,
    ) -> None:
        super().__init__(settings)
        self.connection = connection
        self._owns_connection = owns_connection
        self._stream: Any = None
        self._resume_token: Any = None
        self._collection_ready = False
        self._warned_foreign = False

    @property
    def broker(self) -> str:
        return (
            f'MongoDB at {self.connection.settings.display_uri}, '
            f'collection {self.settings.collection}'
        )

    def _collection(self) -> Any:
        return self.connection.database()[self.settings.collection]

    async def _connect(self) -> None:
        if not self._collection_ready:
            await self._create_collection()
        collection = self._collection()
        # The server drops this process's own inserts; the groups are
        # filtered here, so that joining a group costs no new stream.
        pipeline = [
            {
                '$match': {
                    'operationType': 'insert',
                    'fullDocument.origin': {'$ne': self.origin},
                }
            }
        ]
        token = self._resume_token
        try:
            self._stream = await collection.watch(
                pipeline, resume_after=token, max_await_time_ms=_MAX_AWAIT_MS
            )
        except OperationFailure as exc:
            if token is None:
                raise
            log.warning(
                'aiotao.broadcast: cannot resume the change stream on %s (%s); '
                'broadcasts published while this process was disconnected are lost',
                self.broker,
                summary(exc),
            )
            self._resume_token = None
            self._stream = await collection.watch(
                pipeline, max_await_time_ms=_MAX_AWAIT_MS
            )

    async def _create_collection(self) -> None:
        database = self.connection.database()
        try:
            await database.create_collection(
                self.settings.collection,
                capped=True,
                size=self.settings.collection_size,
                check_exists=False,
            )
        except OperationFailure as exc:
            if exc.code != _NAMESPACE_EXISTS:  # another worker made it: fine
                raise
        self._collection_ready = True

    async def _listen(self) -> None:
        stream = self._stream
        while True:
            change = await stream.try_next()
            # Kept even without a change (the post-batch token), so that a
            # resume does not replay what the server already scanned.
            self._resume_token = stream.resume_token
            if change is None:
                if not stream.alive:
                    # The server ended the stream (the collection or its
                    # database was dropped, without an invalidate event on
                    # some servers).  A dead stream answers try_next() at
                    # once without waiting on the socket: looping on it
                    # would starve the event loop.
                    self._resume_token = None
                    self._collection_ready = False
                    raise ConnectionError(f'the change stream on {self.broker} ended')
                continue
            if change.get('operationType') == 'invalidate':
                # the collection was dropped or renamed: start afresh
                self._resume_token = None
                self._collection_ready = False
                raise ConnectionError(f'the change stream on {self.broker} ended')
            document = change.get('fullDocument') or {}
            group, origin, message = (
                document.get('group'),
                document.get('origin'),
                document.get('message'),
            )
            if (
                isinstance(group, str)
                and isinstance(origin, bytes)
                and isinstance(message, (str, bytes))
            ):
                await self._received(group, origin, message)
            else:
                self._foreign(document)

    def _foreign(self, document: Any) -> None:
        if not self._warned_foreign:
            self._warned_foreign = True
            log.warning(
                'aiotao.broadcast: ignoring a document in %s that aiotao did not '
                'insert (_id %r); the collection is for broadcasts only (logged once)',
                self.broker,
                document.get('_id'),
            )

    async def _send(self, batch: list[tuple[str, Message]]) -> None:
        origin = self.origin
        await self._collection().insert_many(
            [
                {'group': group, 'origin': origin, 'message': message}
                for group, message in batch
            ],
            ordered=True,
        )

    async def _disconnect(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            # closing kills the cursor on the server, which may be gone
            with contextlib.suppress(Exception):
                await stream.close()

    async def close(self) -> None:
        await super().close()
        if self._owns_connection:
            await self.connection.close()
