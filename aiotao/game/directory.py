"""Where the rooms are: the directory every worker reads to match players.

Each room is owned by one worker process, which publishes a
:class:`RoomInfo` (its id, owner, private code, players) with an expiry
and refreshes it while the room runs, a lease: a worker that dies takes
its rooms out of the directory within ``lease`` seconds.

* :class:`MemoryDirectory`: one process (the default);
* :class:`RedisDirectory`: shared by every worker and machine using the
  same Redis (``aiotao.game.directory = redis://127.0.0.1:6379/0``, or
  ``redis+sentinel://…``, ``redis+cluster://…``);
* :class:`MongoDirectory`: shared through the application's MongoDB
  (``aiotao.game.directory = mongodb``, with ``mongo.uri``).

With ``aiotao.broadcast`` set to Redis or MongoDB, the directory follows it.

The matchmaker's rule, the same everywhere (:func:`fullest_open`): a
quick join goes to the public room with the most people *online* that
still has a seat for a person (bots give theirs up), so that rooms fill up
with live players before new ones open, and nobody is sent to a room of
ghosts (seats waiting for a reconnection).

**Successors.**  When the worker running a room dies, its players, on
whichever worker they are, must end up together.  The first to notice
opens a new room and claims it as the dead room's successor
(:meth:`RoomDirectory.claim_successor`, atomic: one claim wins); everyone
else asks for the successor and joins it.

**Checkpoints.**  The directory also keeps each room's last checkpoint
(:mod:`aiotao.game.checkpoint`), as opaque text with an expiry, so that
a worker resuming a dead worker's room reads it from the same backend.
A resumed room keeps its id: removing an entry therefore removes it only
while it is still its owner's (:meth:`RoomDirectory.remove`), so that a
late worker forgetting the dead owner's entry never removes the room
another worker has just resumed.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

__all__ = [
    'MemoryDirectory',
    'MongoDirectory',
    'RedisDirectory',
    'RoomDirectory',
    'RoomInfo',
    'fullest_open',
]


@dataclass(frozen=True, slots=True)
class RoomInfo:
    """What the directory knows of a room.

    >>> RoomInfo('r1', owner='w1', players=3, capacity=10).has_seat
    True
    """

    id: str
    owner: str
    #: People seated (online, or within their grace period).
    players: int
    capacity: int
    #: The code a private room is joined with; ``None`` for a public room.
    code: str | None = None
    #: People whose connection is up.
    online: int = 0
    #: Seats played by the server (a person may take one).
    bots: int = 0

    @property
    def has_seat(self) -> bool:
        """A seat for a person (bots give theirs up)."""
        return self.players < self.capacity

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str | bytes) -> RoomInfo:
        return cls(**json.loads(text))


def fullest_open(rooms: Iterable[RoomInfo]) -> RoomInfo | None:
    """The public room with the most people online that has a seat for one more.

    >>> fullest_open([RoomInfo('a', 'w', 2, 4, online=2), RoomInfo('b', 'w', 3, 4, online=1),
    ...               RoomInfo('c', 'w', 4, 4, online=4), RoomInfo('d', 'w', 3, 4, 'CODE', 3)])
    RoomInfo(id='a', owner='w', players=2, capacity=4, code=None, online=2, bots=0)
    """
    candidates = [room for room in rooms if room.code is None and room.has_seat]
    return max(candidates, key=lambda room: (room.online, room.players), default=None)


class RoomDirectory(Protocol):
    """The rooms of every worker, as the matchmaker sees them."""

    async def publish(self, room: RoomInfo, lease: float) -> None:
        """Record (or refresh) ``room`` for ``lease`` seconds."""

    async def remove(self, room: RoomInfo) -> None:
        """Remove ``room``'s entry, if its owner is still ``room.owner``."""

    async def get(self, room_id: str) -> RoomInfo | None: ...

    async def by_code(self, code: str) -> RoomInfo | None: ...

    async def quick_match(self) -> RoomInfo | None:
        """The room a quick join goes to (:func:`fullest_open`), if any."""

    async def claim_successor(self, room_id: str, successor: str, ttl: float) -> str:
        """Make ``successor`` the room that replaces ``room_id``, unless one is.

        Atomic across workers: the first claim wins and is kept ``ttl``
        seconds.  Returns the successor that won.
        """

    async def successor(self, room_id: str) -> str | None:
        """The room that replaces ``room_id``, if one was claimed."""

    async def save_checkpoint(self, room_id: str, text: str, ttl: float) -> None:
        """Keep ``text``, the room's last checkpoint, for ``ttl`` seconds."""

    async def load_checkpoint(self, room_id: str) -> str | None:
        """The room's last checkpoint, if one is kept."""

    async def delete_checkpoint(self, room_id: str) -> None:
        """The room ended: it is not to be resumed."""

    async def close(self) -> None: ...


class MemoryDirectory:
    """The rooms of this process.

    >>> directory = MemoryDirectory()
    >>> asyncio.run(directory.publish(RoomInfo('r1', 'w1', 1, 4), lease=10))
    >>> asyncio.run(directory.quick_match()).id
    'r1'
    """

    def __init__(self) -> None:
        self._rooms: dict[str, tuple[RoomInfo, float]] = {}
        self._successors: dict[str, tuple[str, float]] = {}
        self._checkpoints: dict[str, tuple[str, float]] = {}

    def _live(self) -> list[RoomInfo]:
        now = time.monotonic()
        return [room for room, expires in self._rooms.values() if expires > now]

    async def publish(self, room: RoomInfo, lease: float) -> None:
        self._rooms[room.id] = (room, time.monotonic() + lease)

    async def remove(self, room: RoomInfo) -> None:
        found = self._rooms.get(room.id)
        if found is not None and found[0].owner == room.owner:
            del self._rooms[room.id]

    async def get(self, room_id: str) -> RoomInfo | None:
        return next((room for room in self._live() if room.id == room_id), None)

    async def by_code(self, code: str) -> RoomInfo | None:
        return next((room for room in self._live() if room.code == code), None)

    async def quick_match(self) -> RoomInfo | None:
        return fullest_open(self._live())

    async def claim_successor(self, room_id: str, successor: str, ttl: float) -> str:
        current = await self.successor(room_id)
        if current is not None:
            return current
        self._successors[room_id] = (successor, time.monotonic() + ttl)
        return successor

    async def successor(self, room_id: str) -> str | None:
        found = self._successors.get(room_id)
        if found is None or found[1] <= time.monotonic():
            return None
        return found[0]

    async def save_checkpoint(self, room_id: str, text: str, ttl: float) -> None:
        self._checkpoints[room_id] = (text, time.monotonic() + ttl)

    async def load_checkpoint(self, room_id: str) -> str | None:
        found = self._checkpoints.get(room_id)
        if found is None or found[1] <= time.monotonic():
            return None
        return found[0]

    async def delete_checkpoint(self, room_id: str) -> None:
        self._checkpoints.pop(room_id, None)

    async def close(self) -> None:
        self._rooms.clear()
        self._successors.clear()


class RedisDirectory:
    """The rooms of every worker sharing one Redis (a server, Sentinel's master or a Cluster).

    Keys (under ``prefix``): ``{<id>}:room`` holds a room's JSON and
    expires with its lease, ``{<id>}:successor`` the room that replaced
    it, ``code:{<code>}`` the id of a private room, and the set ``public``
    the ids of public rooms (ids whose room expired are pruned when a
    quick match reads them).  The braces are Redis Cluster hash tags: a
    room's keys hash by its id alone, so they live on one shard, and the
    rooms spread over the shards.  ``{<id>}:checkpoint`` holds the room's
    last checkpoint.

    ``url`` is any URL of :mod:`aiotao.websocket.backends.redis_urls`
    (``redis://``, ``redis+sentinel://``, ``redis+cluster://``).  Commands
    are retried for a while on a connection error, so that a Sentinel or
    Cluster failover (a few seconds) is ridden out rather than failed.
    """

    # removes a room's entry only while it names the owner removing it: one
    # atomic step on one key (one shard of a Cluster), so that a resumed
    # room's entry is never lost
    _REMOVE = """
    local entry = redis.call('GET', KEYS[1])
    if entry and cjson.decode(entry)['owner'] ~= ARGV[1] then return 0 end
    redis.call('DEL', KEYS[1])
    return 1
    """

    #: Seconds a command waits for Redis; retries on a connection error.
    timeout = 5.0
    retries = 12

    def __init__(self, url: str, prefix: str = 'aiotao:game:') -> None:
        from aiotao.websocket.backends.redis_urls import parse_redis_url

        self.url = url
        self.topology = parse_redis_url(url, 'aiotao.game.directory')
        self.prefix = prefix
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _redis(self) -> Any:
        # made on the loop that uses it: after the fork, in the worker
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            from aiotao.websocket.backends.redis_clients import RedisClient

            self._client = RedisClient(
                self.topology, timeout=self.timeout, retries=self.retries
            )
            self._loop = loop
        return self._client.client

    def room_key(self, room_id: str) -> str:
        """The key of a room's entry.

        >>> RedisDirectory('redis://h/0').room_key('ab12')
        'aiotao:game:{ab12}:room'
        """
        return f'{self.prefix}{{{room_id}}}:room'

    def _successor_key(self, room_id: str) -> str:
        return f'{self.prefix}{{{room_id}}}:successor'

    def _checkpoint_key(self, room_id: str) -> str:
        return f'{self.prefix}{{{room_id}}}:checkpoint'

    def _code_key(self, code: str) -> str:
        return f'{self.prefix}code:{{{code}}}'

    async def publish(self, room: RoomInfo, lease: float) -> None:
        redis = self._redis()
        milliseconds = max(1, int(lease * 1000))
        async with redis.pipeline(transaction=False) as pipe:
            pipe.set(self.room_key(room.id), room.to_json(), px=milliseconds)
            if room.code is None:
                pipe.sadd(f'{self.prefix}public', room.id)
            else:
                pipe.set(self._code_key(room.code), room.id, px=milliseconds)
            await pipe.execute()

    async def remove(self, room: RoomInfo) -> None:
        redis = self._redis()
        if not await redis.eval(self._REMOVE, 1, self.room_key(room.id), room.owner):
            return  # another worker's room now (resumed there)
        async with redis.pipeline(transaction=False) as pipe:
            pipe.srem(f'{self.prefix}public', room.id)
            if room.code is not None:
                pipe.delete(self._code_key(room.code))
            await pipe.execute()

    async def get(self, room_id: str) -> RoomInfo | None:
        text = await self._redis().get(self.room_key(room_id))
        return RoomInfo.from_json(text) if text is not None else None

    async def by_code(self, code: str) -> RoomInfo | None:
        room_id = await self._redis().get(self._code_key(code))
        return await self.get(room_id.decode()) if room_id is not None else None

    async def quick_match(self) -> RoomInfo | None:
        redis = self._redis()
        ids = sorted(
            member.decode() for member in await redis.smembers(f'{self.prefix}public')
        )
        if not ids:
            return None
        keys = [self.room_key(id) for id in ids]
        # the rooms' keys are on several shards of a cluster: one MGET per shard
        read = redis.mget_nonatomic if self._client.is_cluster else redis.mget
        texts = await read(keys)
        expired = [id for id, text in zip(ids, texts, strict=True) if text is None]
        if expired:
            await redis.srem(f'{self.prefix}public', *expired)
        return fullest_open(RoomInfo.from_json(text) for text in texts if text)

    async def claim_successor(self, room_id: str, successor: str, ttl: float) -> str:
        redis = self._redis()
        key = self._successor_key(room_id)
        # SET NX: atomic, the first claim wins
        await redis.set(key, successor, nx=True, px=max(1, int(ttl * 1000)))
        won = await redis.get(key)
        return won.decode() if won is not None else successor

    async def successor(self, room_id: str) -> str | None:
        found = await self._redis().get(self._successor_key(room_id))
        return found.decode() if found is not None else None

    async def save_checkpoint(self, room_id: str, text: str, ttl: float) -> None:
        await self._redis().set(
            self._checkpoint_key(room_id), text, px=max(1, int(ttl * 1000))
        )

    async def load_checkpoint(self, room_id: str) -> str | None:
        found = await self._redis().get(self._checkpoint_key(room_id))
        return found.decode('utf-8', 'replace') if found is not None else None

    async def delete_checkpoint(self, room_id: str) -> None:
        await self._redis().delete(self._checkpoint_key(room_id))

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()


class MongoDirectory:
    """The rooms of every worker sharing the application's MongoDB database.

    One document per room in ``collection``, its ``_id`` the room's id and
    ``expires`` the end of its lease (wall-clock seconds: the workers'
    clocks are assumed to agree within a fraction of the lease).  Expired
    documents are never matched, and are deleted as rooms are published.
    ``database`` returns the database on the running loop
    (:func:`aiotao.mongo.get_database`).
    """

    def __init__(
        self, database: Callable[[], Any], collection: str = 'aiotao_game_rooms'
    ) -> None:
        self._database = database
        self.collection_name = collection

    def _rooms(self) -> Any:
        return self._database()[self.collection_name]

    def _successors(self) -> Any:
        return self._database()[self.collection_name + '_successors']

    def _checkpoints(self) -> Any:
        return self._database()[self.collection_name + '_checkpoints']

    @staticmethod
    def _info(document: dict[str, Any] | None) -> RoomInfo | None:
        if document is None:
            return None
        return RoomInfo(
            document['_id'],
            document['owner'],
            document['players'],
            document['capacity'],
            document.get('code'),
            document.get('online', 0),
            document.get('bots', 0),
        )

    async def publish(self, room: RoomInfo, lease: float) -> None:
        rooms = self._rooms()
        now = time.time()
        document = {**asdict(room), 'expires': now + lease}
        del document['id']
        await rooms.replace_one({'_id': room.id}, document, upsert=True)
        await rooms.delete_many({'expires': {'$lt': now}})

    async def remove(self, room: RoomInfo) -> None:
        await self._rooms().delete_one({'_id': room.id, 'owner': room.owner})

    async def get(self, room_id: str) -> RoomInfo | None:
        return self._info(
            await self._rooms().find_one(
                {'_id': room_id, 'expires': {'$gt': time.time()}}
            )
        )

    async def by_code(self, code: str) -> RoomInfo | None:
        return self._info(
            await self._rooms().find_one(
                {'code': code, 'expires': {'$gt': time.time()}}
            )
        )

    async def quick_match(self) -> RoomInfo | None:
        cursor = self._rooms().find({'code': None, 'expires': {'$gt': time.time()}})
        documents = await cursor.to_list(length=None)
        return fullest_open(
            info for info in map(self._info, documents) if info is not None
        )

    async def claim_successor(self, room_id: str, successor: str, ttl: float) -> str:
        from pymongo.errors import DuplicateKeyError

        successors = self._successors()
        now = time.time()
        await successors.delete_many({'expires': {'$lt': now}})
        try:
            # the _id is unique: the first insert wins
            await successors.insert_one(
                {'_id': room_id, 'successor': successor, 'expires': now + ttl}
            )
        except DuplicateKeyError:
            won = await self.successor(room_id)
            return won if won is not None else successor
        return successor

    async def successor(self, room_id: str) -> str | None:
        document = await self._successors().find_one(
            {'_id': room_id, 'expires': {'$gt': time.time()}}
        )
        return None if document is None else str(document['successor'])

    async def save_checkpoint(self, room_id: str, text: str, ttl: float) -> None:
        await self._checkpoints().replace_one(
            {'_id': room_id},
            {'text': text, 'expires': time.time() + ttl},
            upsert=True,
        )

    async def load_checkpoint(self, room_id: str) -> str | None:
        document = await self._checkpoints().find_one(
            {'_id': room_id, 'expires': {'$gt': time.time()}}
        )
        if document is None:
            return None
        text = document.get('text')
        return text if isinstance(text, str) else repr(text)  # (repr: not JSON)

    async def delete_checkpoint(self, room_id: str) -> None:
        checkpoints = self._checkpoints()
        await checkpoints.delete_one({'_id': room_id})
        # (and those of dead workers' rooms nobody came back to)
        await checkpoints.delete_many({'expires': {'$lt': time.time()}})

    async def close(self) -> None:
        pass  # the client belongs to aiotao.mongo, which closes it
