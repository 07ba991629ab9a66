"""Redis channels on each topology: classic pub/sub, or sharded pub/sub on a Cluster.

:class:`~aiotao.websocket.backends.redis.RedisBackend` talks to Redis
through one of these, made for the connection it opens:

* :class:`PubSubChannels` (one server, or the master Sentinel names):
  ``SUBSCRIBE``/``PUBLISH`` on one connection.  Sentinel needs nothing
  more: a reconnection asks the sentinels where the master is now.
* :class:`ShardedChannels` (Redis Cluster, Redis 7): ``SSUBSCRIBE`` and
  ``SPUBLISH``.  A channel is a key: it lives on the shard that owns its
  hash slot, and its messages go through that shard only, so broker load
  spreads with the number of shards (classic ``PUBLISH`` on a cluster
  goes to every node).  There is one subscribed connection per master,
  and a channel is subscribed on the master that owns its slot.

Both contracts are the same and strict, so that the backend's recovery
rules apply: any failure *raises* (a shard that stops answering, a
``MOVED``, a shard that says it dropped our subscriptions because its
slots moved), and the backend then closes everything, reconnects with a
fresh view of the topology and subscribes again.  Nothing reconnects
quietly underneath, because what was published meanwhile is lost and
members must be told to resync.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

__all__ = ['Channels', 'Handle', 'PubSubChannels', 'ShardedChannels', 'read_messages']

#: ``handle(kind, channel, data)``: a message read from Redis
#: (``kind`` is ``message``, ``subscribe``, ``sunsubscribe``…).
Handle = Callable[[str, str, Any], Awaitable[None]]


class Channels(Protocol):
    """Subscribing, reading and publishing Redis channels on one topology."""

    #: The ``kind`` of a message published to a channel, and of a confirmation.
    message_kind: str
    subscribed_kind: str

    async def connect(self) -> None:
        """Connect (raise if Redis cannot be reached)."""

    async def subscribe(self, channels: Iterable[str]) -> None:
        """Send the subscriptions (their confirmations arrive through :meth:`listen`)."""

    async def unsubscribe(self, channel: str) -> None: ...

    async def listen(self, handle: Handle, idle_ping: float, timeout: float) -> None:
        """Read until the connection fails (raise), passing each message to ``handle``."""

    async def publish(self, batch: list[tuple[str, bytes]]) -> None:
        """Publish ``(channel, payload)`` pairs, in order per channel."""

    async def aclose(self) -> None: ...


async def read_messages(
    pubsub: PubSub, handle: Handle, idle_ping: float, timeout: float
) -> None:
    """Read ``pubsub`` until it fails; ping it after ``idle_ping`` quiet seconds.

    A peer that vanished without closing (a cut network) sends no FIN:
    after a quiet while, a ``PING`` must be answered within ``timeout``.
    """
    loop = asyncio.get_running_loop()
    pong_due: float | None = None
    while True:
        wait = idle_ping if pong_due is None else max(0.0, pong_due - loop.time())
        message = await pubsub.get_message(timeout=wait)
        if message is None:
            if pong_due is None:
                await pubsub.ping()
                pong_due = loop.time() + timeout
            elif loop.time() >= pong_due:
                raise ConnectionError(f'no answer to a PING within {timeout:g} s')
            continue
        pong_due = None  # anything from Redis shows the connection is alive
        channel = message['channel']
        if isinstance(channel, bytes):
            channel = channel.decode('utf-8', 'replace')
        await handle(str(message['type']), channel or '', message['data'])


class PubSubChannels:
    """Classic pub/sub on one connection (one server, or Sentinel's master)."""

    message_kind = 'message'
    subscribed_kind = 'subscribe'

    def __init__(self, client: Redis) -> None:
        self.client = client
        self.pubsub = client.pubsub()

    async def connect(self) -> None:
        await self.client.ping()
        await self.pubsub.connect()  # type: ignore[no-untyped-call]

    async def subscribe(self, channels: Iterable[str]) -> None:
        await self.pubsub.subscribe(*channels)

    async def unsubscribe(self, channel: str) -> None:
        await self.pubsub.unsubscribe(channel)

    async def listen(self, handle: Handle, idle_ping: float, timeout: float) -> None:
        await read_messages(self.pubsub, handle, idle_ping, timeout)

    async def publish(self, batch: list[tuple[str, bytes]]) -> None:
        if len(batch) == 1:
            await self.client.publish(*batch[0])
            return
        async with self.client.pipeline(transaction=False) as pipe:
            for channel, payload in batch:
                pipe.publish(channel, payload)
            await pipe.execute()

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self.pubsub.aclose()  # type: ignore[no-untyped-call]


class ShardedChannels:
    """Sharded pub/sub on a Redis Cluster: each channel on the master owning its slot.

    ``cluster`` gives the topology (its slot map, read when
    :meth:`connect` runs); the messages go over connections of this
    object's own, one per master, made with ``connection`` (the
    cluster's credentials and timeouts) and never retried quietly.
    """

    message_kind = 'smessage'
    subscribed_kind = 'ssubscribe'

    def __init__(self, cluster: RedisCluster, **connection: Any) -> None:
        self.cluster = cluster
        self._connection = connection
        #: ``host:port`` of each master -> its client and subscribed connection
        self._nodes: dict[str, tuple[Redis, PubSub]] = {}
        #: the channels subscribed, by master
        self.channels: dict[str, set[str]] = {}
        #: our own SUNSUBSCRIBEs not confirmed yet, by channel
        self._leaving: Counter[str] = Counter()

    async def connect(self) -> None:
        await self.cluster.initialize()
        for node in self.cluster.get_primaries():
            client = Redis(
                host=node.host,
                port=int(node.port),
                retry=Retry(NoBackoff(), 0),
                **self._connection,
            )
            pubsub = client.pubsub()
            self._nodes[node.name] = (client, pubsub)
            self.channels[node.name] = set()
            await client.ping()
            await pubsub.connect()  # type: ignore[no-untyped-call]

    def node_of(self, channel: str) -> str:
        """The ``host:port`` of the master that owns ``channel``'s slot."""
        node = self.cluster.get_node_from_key(channel)
        if node is None or node.name not in self._nodes:
            raise ConnectionError(f'no master owns the channel {channel!r} right now')
        return str(node.name)

    def _by_node(self, channels: Iterable[str]) -> dict[str, list[str]]:
        by_node: dict[str, list[str]] = {}
        for channel in channels:
            by_node.setdefault(self.node_of(channel), []).append(channel)
        return by_node

    async def subscribe(self, channels: Iterable[str]) -> None:
        for name, on_node in self._by_node(channels).items():
            pubsub = self._nodes[name][1]
            # one SSUBSCRIBE per channel: the channels of one must share a slot
            for channel in on_node:
                await pubsub.ssubscribe(channel)
            self.channels[name].update(on_node)

    async def unsubscribe(self, channel: str) -> None:
        name = self.node_of(channel)
        self.channels[name].discard(channel)
        self._leaving[channel] += 1
        await self._nodes[name][1].sunsubscribe(channel)

    async def listen(self, handle: Handle, idle_ping: float, timeout: float) -> None:
        async def checked(kind: str, channel: str, data: Any) -> None:
            if kind == 'sunsubscribe' and self._leaving[channel] > 0:
                self._leaving[channel] -= 1  # ours (a group's last member left)
                if not self._leaving[channel]:
                    del self._leaving[channel]
            elif kind == 'sunsubscribe' and any(
                channel in wanted for wanted in self.channels.values()
            ):
                # a shard drops its subscribers when its slots move away
                # (a failover, a resharding): the channel lives elsewhere now
                raise ConnectionError(f'the shard of channel {channel!r} moved')
            await handle(kind, channel, data)

        readers = [
            asyncio.ensure_future(read_messages(pubsub, checked, idle_ping, timeout))
            for _, pubsub in self._nodes.values()
        ]
        try:
            done, _ = await asyncio.wait(readers, return_when=asyncio.FIRST_EXCEPTION)
            for reader in done:
                reader.result()  # the first failure, raised as itself
        finally:
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*readers, return_exceptions=True)

    async def publish(self, batch: list[tuple[str, bytes]]) -> None:
        by_node: dict[str, list[tuple[str, bytes]]] = {}
        for channel, payload in batch:
            by_node.setdefault(self.node_of(channel), []).append((channel, payload))

        async def send(name: str, items: list[tuple[str, bytes]]) -> None:
            async with self._nodes[name][0].pipeline(transaction=False) as pipe:
                for channel, payload in items:
                    pipe.execute_command('SPUBLISH', channel, payload)
                await pipe.execute()

        await asyncio.gather(*(send(name, items) for name, items in by_node.items()))

    async def aclose(self) -> None:
        nodes, self._nodes = self._nodes, {}
        for client, pubsub in nodes.values():
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            with contextlib.suppress(Exception):
                await client.aclose(close_connection_pool=True)
