"""RedisBackend on Redis Sentinel and Redis Cluster, real servers, failovers included.

* Sentinel (a master, a replica, three sentinels): the backend follows the
  master the sentinels name; once the replica is promoted, broadcasts
  cross again and the members are told to resync.
* Cluster (three masters, three replicas): each group's channel is
  subscribed with ``SSUBSCRIBE`` on the master owning its slot (``PUBSUB
  SHARDCHANNELS`` of each master shows its share), ``SPUBLISH`` goes there
  and nowhere else; a master killed, its replica takes over, and delivery
  resumes with a resync.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from aiotao.websocket.backends.redis import RedisBackend
from aiotao.websocket.groups import Groups
from tests.harness.redis_cluster import RedisCluster, redis_cluster
from tests.harness.redis_sentinel import RedisSentinel, redis_sentinel
from tests.websocket.backends.processes import Member, member_of, process, wait_for

__all__ = ['redis_cluster', 'redis_sentinel']

GROUPS = [f'room{n}' for n in range(12)]


async def resyncs_of(groups: Groups) -> list[frozenset[str]]:
    told: list[frozenset[str]] = []

    async def resync(names: frozenset[str]) -> None:
        told.append(names)

    groups.on_resync(resync)
    return told


async def all_delivered(one: Groups, members: dict[str, Member], text: str) -> None:
    """Broadcast ``text`` to every group from ``one`` until each member has it."""
    async with asyncio.timeout(20):
        while not all(text in member.received for member in members.values()):
            for group in members:
                await one.broadcast(group, text)
            await asyncio.sleep(0.2)


@pytest.mark.timeout(120)
async def test_sentinel_master_followed_through_a_failover(
    redis_sentinel: RedisSentinel,
) -> None:
    settings = {'aiotao.broadcast': redis_sentinel.url}
    async with process(settings) as one, process(settings) as two:
        assert isinstance(two.backend, RedisBackend)
        assert two.backend.broker.startswith('Redis Sentinel at redis+sentinel://')
        told = await resyncs_of(two)
        members = {group: await member_of(two, group) for group in GROUPS[:3]}
        await all_delivered(one, members, 'before')

        old = redis_sentinel.master_port()
        killed_at = time.monotonic()
        redis_sentinel.kill_master()
        await asyncio.to_thread(redis_sentinel.wait_for_failover, old)
        await all_delivered(one, members, 'after')
        print(
            f'\nSentinel: broadcasts cross again {time.monotonic() - killed_at:.1f} s after the kill'
        )
        await wait_for(lambda: frozenset(GROUPS[:3]) in told)


@pytest.mark.timeout(120)
async def test_cluster_channels_on_their_shards_and_a_failover(
    redis_cluster: RedisCluster,
) -> None:
    settings = {'aiotao.broadcast': redis_cluster.url}
    async with process(settings) as one, process(settings) as two:
        assert isinstance(two.backend, RedisBackend)
        told = await resyncs_of(two)
        members = {group: await member_of(two, group) for group in GROUPS}
        await all_delivered(one, members, 'before')

        # each channel on the master owning its slot, and only there
        shards = redis_cluster.shard_channels()
        assert len(shards) == 3
        for group in GROUPS:
            channel = f'aiotao:{group}'
            owner = redis_cluster.master_of(channel).port
            assert [port for port, names in shards.items() if channel in names] == [
                owner
            ]
        assert all(shards.values()), shards  # twelve channels spread over all three

        # the last member leaving unsubscribes; coming back at once is no failover
        await two.leave('room1', members['room1'])
        members['room1'] = await member_of(two, 'room1')
        await all_delivered(one, members, 'rejoined')
        await asyncio.sleep(0.5)
        assert told == []  # nothing was taken for a moved shard: no reconnection

        killed = redis_cluster.kill_master(redis_cluster.master_of('aiotao:room0').port)
        killed_at = time.monotonic()
        await asyncio.to_thread(redis_cluster.wait_for_failover, killed)
        await all_delivered(one, members, 'after')
        print(
            f'\nCluster: broadcasts cross again {time.monotonic() - killed_at:.1f} s after the kill'
        )
        await wait_for(lambda: frozenset(GROUPS) in told)
        moved = redis_cluster.shard_channels()
        assert killed.port not in moved
        assert sorted(c for names in moved.values() for c in names) == sorted(
            f'aiotao:{group}' for group in GROUPS
        )
