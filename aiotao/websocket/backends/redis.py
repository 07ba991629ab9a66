"""Redis pub/sub between processes: ``aiotao.broadcast = redis://host:port/db``.

Each process holds two connections to Redis, made on its own event loop
after gunicorn forked it: one subscribed to a channel per group that has
local members (``aiotao.broadcast.prefix`` + the group name, so that
several applications can share one Redis), one to publish.  A broadcast is
a ``PUBLISH`` of the payload :mod:`~aiotao.websocket.backends.wire` makes::

    [app:main]
    aiotao.broadcast = redis://127.0.0.1:6379/0
    aiotao.broadcast.prefix = shop:

Redis pub/sub keeps nothing: a process that is disconnected misses what is
published meanwhile.  A connection quiet for :data:`IDLE_PING` seconds is
pinged, so that a broker gone without a word (a cut network) is noticed
within ``IDLE_PING + aiotao.broadcast.timeout`` seconds.  The recovery rules are
:mod:`~aiotao.websocket.backends.broker`'s.  Needs ``pip install "aiotao[redis]"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from aiotao.websocket.backends import wire
from aiotao.websocket.backends.broker import BrokerBackend
from aiotao.websocket.backends.settings import BroadcastSettings
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
    """

    #: Seconds of silence after which the subscription is pinged.
    idle_ping = IDLE_PING

    def __init__(self, settings: BroadcastSettings) -> None:
        super().__init__(settings)
        self._client: Redis | None = None
        self._pubsub: PubSub | None = None
        # channel -> subscribe() calls waiting for Redis to confirm it
        self._confirming: dict[str, list[asyncio.Future[None]]] = {}
        self._warned_foreign = False

    @property
    def broker(self) -> str:
        return f'Redis at {self.settings.display_url}'

    def _channel(self, group: str) -> str:
        return self.settings.prefix + group

    @property
    def _subscription(self) -> PubSub:
        if self._pubsub is None:  # lost between the caller's check and now
            raise ConnectionError(f'not connected to {self.broker}')
        return self._pubsub

    async def _connect(self) -> None:
        timeout = self.settings.timeout
        self._client = client = Redis.from_url(
            self.settings.url,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            socket_keepalive=True,
            # Reconnecting is BrokerBackend's job (logged, backed off,
            # resubscribed): redis-py's own retries would hide the outage.
            retry=Retry(NoBackoff(), 0),
        )
        await client.ping()
        self._pubsub = pubsub = client.pubsub()
        await pubsub.connect()  # type: ignore[no-untyped-call]

    async def _resubscribe(self, groups: list[str]) -> None:
        await self._subscription.subscribe(*(self._channel(group) for group in groups))

    async def _subscribe(self, group: str) -> None:
        subscription = self._subscription
        channel = self._channel(group)
        confirmed = asyncio.get_running_loop().create_future()
        self._confirming.setdefault(channel, []).append(confirmed)
        try:
            await subscription.subscribe(channel)
            await confirmed
        finally:
            waiting = self._confirming.get(channel, [])
            if confirmed in waiting:
                waiting.remove(confirmed)

    async def _unsubscribe(self, group: str) -> None:
        await self._subscription.unsubscribe(self._channel(group))

    async def _listen(self) -> None:
        pubsub, prefix = self._subscription, self.settings.prefix
        loop = asyncio.get_running_loop()
        # A peer that vanished without closing (a cut network) sends no
        # FIN: after a quiet while, a PING must be answered in time.
        pong_due: float | None = None
        while True:
            wait = (
                self.idle_ping if pong_due is None else max(0.0, pong_due - loop.time())
            )
            message = await pubsub.get_message(timeout=wait)
            if message is None:
                if pong_due is None:
                    await pubsub.ping()
                    pong_due = loop.time() + self.settings.timeout
                elif loop.time() >= pong_due:
                    raise ConnectionError(
                        f'no answer to a PING within {self.settings.timeout:g} s'
                    )
                continue
            pong_due = None  # anything from Redis shows the connection is alive
            kind, channel = message['type'], message['channel']
            if isinstance(channel, bytes):
                channel = channel.decode('utf-8', 'replace')
            if kind == 'message' and channel.startswith(prefix):
                try:
                    origin, data = wire.decode(message['data'])
                except wire.ForeignPayload as exc:
                    self._foreign(channel, exc)
                    continue
                await self._received(channel[len(prefix) :], origin, data)
            elif kind == 'subscribe':
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
        if self._client is None:
            raise ConnectionError(f'not connected to {self.broker}')
        origin = self.origin
        if len(batch) == 1:
            group, message = batch[0]
            await self._client.publish(
                self._channel(group), wire.encode(origin, message)
            )
            return
        async with self._client.pipeline(transaction=False) as pipe:
            for group, message in batch:
                pipe.publish(self._channel(group), wire.encode(origin, message))
            await pipe.execute()

    async def _disconnect(self) -> None:
        pubsub, client = self._pubsub, self._client
        self._pubsub = self._client = None
        for waiting in self._confirming.values():
            for confirmed in waiting:
                if not confirmed.done():
                    confirmed.set_exception(ConnectionError('disconnected'))
        self._confirming.clear()
        with contextlib.suppress(Exception):
            if pubsub is not None:
                await pubsub.aclose()  # type: ignore[no-untyped-call]
        with contextlib.suppress(Exception):
            if client is not None:
                await client.aclose(close_connection_pool=True)
