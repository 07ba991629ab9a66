"""Redis pub/sub between processes: ``aiotao.broadcast = redis://host:port/db``.

Each process holds two connections to Redis, made on its own event loop
after gunicorn forked it: one subscribed to a channel per group that has
local members (``aiotao.broadcast.prefix`` + the group name, so that
several applications can share one Redis), one to publish.  A broadcast is
a ``PUBLISH`` of the payload :mod:`~aiotao.websocket.backends.wire` makes::

    [app:main]
    aiotao.broadcast = redis://127.0.0.1:6379/0
    aiotao.broadcast.prefix = shop:

The same backend runs on the two production topologies
(:mod:`~aiotao.websocket.backends.redis_urls` has their URLs):

* ``redis+sentinel://h1:26379,h2:26379/mymaster/0``: the master the
  sentinels name; after a failover the reconnection asks them again and
  lands on the promoted replica;
* ``redis+cluster://h1:7000,h2:7001``: sharded pub/sub
  (``SSUBSCRIBE``/``SPUBLISH``, Redis 7), each group's channel on the shard
  owning its slot (:class:`~aiotao.websocket.backends.redis_channels.ShardedChannels`).

Redis pub/sub keeps nothing: a process that is disconnected misses what is
published meanwhile, so after each reconnection the backend tells
:class:`~aiotao.websocket.groups.Groups` which groups may have missed
messages (``on_resync``), and the chat and the game resend what their
members need (the history, a full snapshot).  A connection quiet for
:data:`IDLE_PING` seconds is pinged, so that a broker gone without a word
(a cut network) is noticed within ``IDLE_PING + aiotao.broadcast.timeout``
seconds.  The recovery rules are :mod:`~aiotao.websocket.backends.broker`'s.
Needs ``pip install "aiotao[redis]"``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from redis.asyncio import Redis

from aiotao.websocket.backends import wire
from aiotao.websocket.backends.broker import BrokerBackend
from aiotao.websocket.backends.redis_channels import (
    Channels,
    PubSubChannels,
    ShardedChannels,
)
from aiotao.websocket.backends.redis_clients import RedisClient
from aiotao.websocket.backends.redis_urls import parse_redis_url
from aiotao.websocket.backends.settings import SETTING, BroadcastSettings
from aiotao.websocket.transport import Message

__all__ = ['RedisBackend']

log = logging.getLogger('aiotao.broadcast')

#: Seconds of silence on the subscription after which Redis is pinged.
IDLE_PING = 15.0


class RedisBackend(BrokerBackend):
    """Broadcasts over Redis pub/sub.

    >>> from aiotao.websocket.backends.settings import read_settings
    >>> backend = RedisBackend(read_settings({'aiotao.broadcast': 'redis://127.0.0.1:6379/0'}))
    >>> backend.broker
    'Redis at redis://127.0.0.1:6379/0'
    >>> RedisBackend(read_settings({'aiotao.broadcast': 'redis+cluster://h1:7000'})).broker
    'Redis Cluster at redis+cluster://h1:7000'
    """

    #: Seconds of silence after which the subscription is pinged.
    idle_ping = IDLE_PING

    def __init__(self, settings: BroadcastSettings) -> None:
        super().__init__(settings)
        self.topology = settings.topology or parse_redis_url(settings.url, SETTING)
        self._client: RedisClient | None = None
        self._channels: Channels | None = None
        # channel -> subscribe() calls waiting for Redis to confirm it
        self._confirming: dict[str, list[asyncio.Future[None]]] = {}
        self._warned_foreign = False

    @property
    def broker(self) -> str:
        what = {
            'server': 'Redis',
            'sentinel': 'Redis Sentinel',
            'cluster': 'Redis Cluster',
        }
        return f'{what[self.topology.kind]} at {self.settings.display_url}'

    def _channel(self, group: str) -> str:
        return self.settings.prefix + group

    @property
    def _subscription(self) -> Channels:
        if self._channels is None:  # lost between the caller's check and now
            raise ConnectionError(f'not connected to {self.broker}')
        return self._channels

    async def _connect(self) -> None:
        # Reconnecting is BrokerBackend's job (logged, backed off,
        # resubscribed, resynced): redis-py's own retries would hide the outage.
        self._client = client = RedisClient(
            self.topology, timeout=self.settings.timeout
        )
        channels: PubSubChannels | ShardedChannels
        if isinstance(client.client, Redis):
            channels = PubSubChannels(client.client)
        else:
            channels = ShardedChannels(client.client, **client.connection_kwargs)
        self._channels = channels
        await channels.connect()

    async def _resubscribe(self, groups: list[str]) -> None:
        await self._subscription.subscribe(self._channel(group) for group in groups)

    async def _subscribe(self, group: str) -> None:
        subscription = self._subscription
        channel = self._channel(group)
        confirmed = asyncio.get_running_loop().create_future()
        self._confirming.setdefault(channel, []).append(confirmed)
        try:
            await subscription.subscribe([channel])
            await confirmed
        finally:
            waiting = self._confirming.get(channel, [])
            if confirmed in waiting:
                waiting.remove(confirmed)

    async def _unsubscribe(self, group: str) -> None:
        await self._subscription.unsubscribe(self._channel(group))

    async def _listen(self) -> None:
        channels = self._subscription
        await channels.listen(self._handle, self.idle_ping, self.settings.timeout)

    async def _handle(self, kind: str, channel: str, data: Any) -> None:
        channels, prefix = self._subscription, self.settings.prefix
        if kind == channels.message_kind and channel.startswith(prefix):
            try:
                origin, message = wire.decode(data)
            except wire.ForeignPayload as exc:
                self._foreign(channel, exc)
                return
            await self._received(channel[len(prefix) :], origin, message)
        elif kind == channels.subscribed_kind:
            for confirmed in self._confirming.pop(channel, ()):
                if not confirmed.done():
                    confirmed.set_result(None)

    def _foreign(self, channel: str, exc: Exception) -> None:
        if not self._warned_foreign:
            self._warned_foreign = True
            log.warning(
                'aiotao.broadcast: ignoring a message on the Redis channel %r '
                'that aiotao did not publish (%s); is another program using the '
                'prefix %r? (logged once)',
                channel,
                exc,
                self.settings.prefix,
            )

    async def _send(self, batch: list[tuple[str, Message]]) -> None:
        origin = self.origin
        await self._subscription.publish(
            [
                (self._channel(group), wire.encode(origin, message))
                for group, message in batch
            ]
        )

    async def _disconnect(self) -> None:
        channels, client = self._channels, self._client
        self._channels = self._client = None
        for waiting in self._confirming.values():
            for confirmed in waiting:
                if not confirmed.done():
                    confirmed.set_exception(ConnectionError('disconnected'))
        self._confirming.clear()
        if channels is not None:
            await channels.aclose()
        if client is not None:
            await client.aclose()
