"""A Redis Cluster for tests: three masters, each with a replica, on 127.0.0.1.

Six ``redis-server --cluster-enabled yes`` (Debian's ``redis-server``),
joined by ``redis-cli --cluster create``, each on a free port with its
files in the test's own directory, all stopped when the test ends::

    from tests.harness.redis_cluster import redis_cluster  # noqa: F401

    async def test_sharded(redis_cluster):
        url = redis_cluster.url                 # redis+cluster://127.0.0.1:P1,...
        redis_cluster.shard_channels()          # PUBSUB SHARDCHANNELS of each master
        killed = redis_cluster.kill_master()    # SIGKILL, as a crash
        redis_cluster.wait_for_failover(killed) # until its replica is master

A node silent for :data:`NODE_TIMEOUT_MS` is failed, and its replica
takes its slots over.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.crc import key_slot

from tests.harness.redis import RedisServer, _free_port, redis_cli
from tests.harness.redis_topology import RedisTopology, started

MASTERS = 3
NODE_TIMEOUT_MS = 1000


class ClusterNode(RedisServer):
    """One node of the cluster; its cluster bus on a port of its own."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.bus_port = 0

    def command_line(self) -> list[str]:
        self.bus_port = self.bus_port or _free_port()
        return [
            *super().command_line(),
            '--cluster-enabled', 'yes',
            '--cluster-config-file', str(self.directory / 'nodes.conf'),
            '--cluster-node-timeout', str(NODE_TIMEOUT_MS),
            '--cluster-port', str(self.bus_port),
            # a replica takes over however long it was cut off (a test kills
            # its master right after starting)
            '--cluster-replica-validity-factor', '0',
        ]  # fmt: skip

    def role(self) -> str:
        info = self.command('ROLE').split()
        return info[0] if info else ''


class RedisCluster(RedisTopology):
    """Three masters and three replicas; :attr:`url` names the masters."""

    def __init__(self, directory: Path, masters: int = MASTERS) -> None:
        self.directory = directory
        self.nodes = [ClusterNode(directory / f'node{n}') for n in range(masters * 2)]
        self.masters_wanted = masters

    def members(self) -> list[ClusterNode]:
        return self.nodes

    @property
    def url(self) -> str:
        running = [node for node in self.nodes if node.running]
        return 'redis+cluster://' + ','.join(f'127.0.0.1:{n.port}' for n in running)

    def start(self) -> RedisCluster:
        for node in self.nodes:
            node.start()
        redis_cli(
            '--cluster', 'create',
            *(f'127.0.0.1:{node.port}' for node in self.nodes),
            '--cluster-replicas', '1',
            '--cluster-yes',
        )  # fmt: skip
        self.wait_until(self._ready, 'the cluster to be ready')
        return self

    def _ready(self) -> bool:
        for node in self.nodes:
            if not node.running:
                continue
            if 'cluster_state:ok' not in node.command('CLUSTER', 'INFO'):
                return False
        return len(self.masters()) == self.masters_wanted and all(
            'master_link_status:up' in node.command('INFO', 'replication')
            for node in self.nodes
            if node.running and node.role() == 'slave'
        )

    def masters(self) -> list[ClusterNode]:
        return [node for node in self.nodes if node.running and node.role() == 'master']

    def master_of(self, key: str) -> ClusterNode:
        """The master that owns ``key``'s (or channel's) hash slot now."""
        slot = key_slot(key.encode())
        for line in self.masters()[0].command('CLUSTER', 'NODES').splitlines():
            fields = line.split()
            if 'master' not in fields[2] or 'fail' in fields[2]:
                continue
            for span in fields[8:]:
                first, _, last = span.partition('-')
                if span[0] != '[' and int(first) <= slot <= int(last or first):
                    port = int(fields[1].split('@')[0].rsplit(':', 1)[1])
                    return next(node for node in self.nodes if node.port == port)
        raise RuntimeError(f'no master owns slot {slot} ({key!r})')

    def shard_channels(self) -> dict[int, set[str]]:
        """``PUBSUB SHARDCHANNELS`` of each running master, by port."""
        return {
            node.port: set(node.command('PUBSUB', 'SHARDCHANNELS').split())
            for node in self.masters()
        }

    def kill_master(self, port: int | None = None) -> ClusterNode:
        """SIGKILL a master (the one on ``port``, or the first); the node killed."""
        victim = next(
            node for node in self.masters() if port is None or node.port == port
        )
        victim.kill()
        return victim

    def wait_for_failover(self, killed: ClusterNode, timeout: float = 30.0) -> float:
        """Wait until the cluster is whole again without ``killed``; how long."""
        started = time.monotonic()
        self.wait_until(
            self._ready, 'a replica to take the killed master over', timeout
        )
        assert not killed.running
        return time.monotonic() - started


@pytest.fixture
def redis_cluster(tmp_path: Path) -> Iterator[RedisCluster]:
    """A started :class:`RedisCluster` of this test's own."""
    yield from started(RedisCluster(tmp_path / 'cluster'))


__all__ = ['ClusterNode', 'RedisCluster', 'redis_cluster']
