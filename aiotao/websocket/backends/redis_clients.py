"""redis-py clients for a :class:`~aiotao.websocket.backends.redis_urls.RedisTopology`.

* one server: :class:`redis.asyncio.Redis`;
* Sentinel: the client :meth:`redis.asyncio.sentinel.Sentinel.master_for`
  makes, whose connections ask the sentinels for the master's address
  each time they connect, so that after a failover a reconnection lands
  on the promoted replica without aiotao doing anything more;
* Cluster: :class:`redis.asyncio.cluster.RedisCluster`, which routes each
  key to the shard owning its slot and follows ``MOVED`` after a failover.

A :class:`RedisClient` owns what it made (the Sentinel's own connections
too) and closes all of it.  Clients are made on the loop that uses them:
in the worker, after gunicorn forked it.
"""

from __future__ import annotations

import contextlib
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialBackoff, NoBackoff

from aiotao.websocket.backends.redis_urls import RedisTopology

__all__ = ['RedisClient']


class RedisClient:
    """A client of the Redis ``topology`` names, and what it takes to close it.

    ``timeout`` bounds every connection attempt and reply.  ``retries``:
    how many times redis-py itself retries a command on a connection error
    (0 where the caller reconnects by itself and must see the failure).

    >>> from aiotao.websocket.backends.redis_urls import parse_redis_url
    >>> client = RedisClient(parse_redis_url('redis+sentinel://h1/cache', 'x'), timeout=1)
    >>> client.is_cluster, type(client.client).__name__
    (False, 'Redis')
    """

    def __init__(
        self, topology: RedisTopology, *, timeout: float, retries: int = 0
    ) -> None:
        self.topology = topology
        self._sentinel: Sentinel | None = None
        retry = (
            Retry(ExponentialBackoff(cap=1.0, base=0.05), retries)
            if retries
            else Retry(NoBackoff(), 0)
        )
        common: dict[str, Any] = {
            'socket_connect_timeout': timeout,
            'socket_timeout': timeout,
            'socket_keepalive': True,
            'username': topology.username,
            'password': topology.password,
        }
        if topology.ssl and topology.kind != 'server':
            # (a rediss:// URL says it itself: redis-py refuses ssl= beside it)
            common['ssl'] = True
        #: What a connection to one node of this Redis takes (credentials, timeouts).
        self.connection_kwargs = dict(common)
        self.client: Redis | RedisCluster
        if topology.kind == 'server':
            self.client = Redis.from_url(topology.url, retry=retry, **common)
        elif topology.kind == 'sentinel':
            assert topology.service is not None
            self._sentinel = Sentinel(
                list(topology.nodes),
                # the sentinels: reached without the data nodes' password
                sentinel_kwargs={
                    'socket_connect_timeout': timeout,
                    'socket_timeout': timeout,
                },
            )
            self.client = self._sentinel.master_for(
                topology.service, db=topology.db, retry=retry, **common
            )
        else:
            self.client = RedisCluster(
                startup_nodes=[
                    ClusterNode(host, port) for host, port in topology.nodes
                ],
                # (a failover takes the cluster a few seconds: with retries,
                # commands keep trying through it)
                retry=retry,
                **common,
            )

    @property
    def is_cluster(self) -> bool:
        return isinstance(self.client, RedisCluster)

    async def aclose(self) -> None:
        """Close the client's connections (and the sentinels'); never raise."""
        with contextlib.suppress(Exception):
            if isinstance(self.client, RedisCluster):
                await self.client.aclose()
            else:
                await self.client.aclose(close_connection_pool=True)
        if self._sentinel is not None:
            with contextlib.suppress(Exception):
                await self._sentinel.aclose()
