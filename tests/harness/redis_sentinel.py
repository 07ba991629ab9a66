"""Redis with Sentinel for tests: a master, a replica and three sentinels on 127.0.0.1.

Every process is Debian's ``redis-server`` (a sentinel is ``redis-server
sentinel.conf --sentinel``: no other package is needed), each on a free
port with its files in the test's own directory, all stopped when the
test ends::

    from tests.harness.redis_sentinel import redis_sentinel  # noqa: F401

    async def test_failover(redis_sentinel):
        url = redis_sentinel.url          # redis+sentinel://127.0.0.1:P1,.../mymaster/0
        redis_sentinel.kill_master()      # SIGKILL, as a crash
        redis_sentinel.wait_for_failover()  # until the sentinels name the replica

Failure detection is quick for a test: a master silent for
:data:`DOWN_AFTER_MS` is down, and two sentinels of three must agree.
A sentinel not scheduled for two seconds (a busy shared machine) enters
TILT mode and acts on nothing for :data:`TILT_PERIOD_MS`: Redis's 30 s
default outlasts the ten down-after periods for which a replica that lost
its master still counts as promotable, and the failover is then refused
("-failover-abort-no-good-slave", seen in CI), so tests shorten it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.redis import RedisServer, redis_server_program
from tests.harness.redis_topology import RedisTopology, started

SERVICE = 'mymaster'
#: Milliseconds without an answer after which a sentinel thinks the master down.
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000
#: How long a sentinel stays in TILT mode after a stall (Redis: 30,000).
TILT_PERIOD_MS = 1000
SENTINELS = 3


class Sentinel(RedisServer):
    """One ``redis-server --sentinel`` watching ``master``."""

    def __init__(self, directory: Path, master: RedisServer) -> None:
        super().__init__(directory)
        self.master = master

    @property
    def log_path(self) -> Path:
        return self.directory / 'sentinel.log'

    def command_line(self) -> list[str]:
        config = self.directory / 'sentinel.conf'  # a sentinel rewrites its file
        if not config.exists():
            config.write_text(
                f'port {self.port}\n'
                f'bind {self.host}\n'
                f'dir {self.directory}\n'
                f'logfile {self.log_path}\n'
                f'sentinel monitor {SERVICE} {self.master.host} {self.master.port} 2\n'
                f'sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}\n'
                f'sentinel failover-timeout {SERVICE} {FAILOVER_TIMEOUT_MS}\n'
                f'sentinel parallel-syncs {SERVICE} 1\n'
            )
        return [redis_server_program(), str(config), '--sentinel']

    def start(self) -> Sentinel:
        super().start()
        # not a configuration-file directive: set at run time, after each start
        self.command('SENTINEL', 'DEBUG', 'tilt-period', str(TILT_PERIOD_MS))
        return self

    def tilted(self) -> bool:
        """Whether this sentinel is in TILT mode (it then starts no failover)."""
        return 'sentinel_tilt:1' in self.command('INFO', 'sentinel')


class RedisSentinel(RedisTopology):
    """A master, a replica and three sentinels; :attr:`url` names them all."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.master = RedisServer(directory / 'master')
        self.replica: RedisServer | None = None
        self.sentinels: list[Sentinel] = []

    @property
    def url(self) -> str:
        nodes = ','.join(f'127.0.0.1:{sentinel.port}' for sentinel in self.sentinels)
        return f'redis+sentinel://{nodes}/{SERVICE}/0'

    @property
    def servers(self) -> list[RedisServer]:
        """The data nodes: the master and the replica, as first started."""
        return [self.master] + ([self.replica] if self.replica else [])

    def members(self) -> list[RedisServer]:
        return [*self.sentinels, *self.servers]

    def start(self) -> RedisSentinel:
        self.master.start()
        self.replica = RedisServer(
            self.directory / 'replica',
            extra_args=['--replicaof', self.master.host, str(self.master.port)],
        )
        self.replica.start()
        self.wait_until(
            lambda: 'master_link_status:up' in self.replica_info(), 'replication'
        )
        for n in range(SENTINELS):
            sentinel = Sentinel(self.directory / f'sentinel{n}', self.master)
            sentinel.start()
            self.sentinels.append(sentinel)
        # every sentinel knows the others and the replica before a test kills anything
        self.wait_until(self._sentinels_ready, 'the sentinels to see each other')
        return self

    def replica_info(self) -> str:
        assert self.replica is not None
        return self.replica.command('INFO', 'replication')

    def _none_tilted(self) -> bool:
        return not any(sentinel.tilted() for sentinel in self.sentinels)

    def _sentinels_ready(self) -> bool:
        if not self._none_tilted():
            return False
        for sentinel in self.sentinels:
            info = sentinel.command('SENTINEL', 'MASTER', SERVICE)
            fields = info.split()
            values = dict(zip(fields[::2], fields[1::2], strict=False))
            if values.get('num-other-sentinels') != str(SENTINELS - 1):
                return False
            if values.get('num-slaves') != '1':
                return False
        return True

    def master_port(self) -> int:
        """The port of the master the sentinels name now."""
        answer = (
            self.sentinels[0]
            .command('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SERVICE)
            .split()
        )
        return int(answer[1])

    def kill_master(self) -> RedisServer:
        """SIGKILL the current master; the server killed.

        First waits until no sentinel is in TILT mode, so that a stall
        before the kill cannot delay the failover it is meant to test.
        """
        self.wait_until(self._none_tilted, 'the sentinels to leave TILT mode')
        port = self.master_port()
        victim = next(server for server in self.servers if server.port == port)
        victim.kill()
        return victim

    def wait_for_failover(self, old_port: int, timeout: float = 30.0) -> float:
        """Wait until the sentinels name another master and it takes writes; how long."""
        started = time.monotonic()

        def promoted() -> bool:
            try:
                port = self.master_port()
            except RuntimeError:
                return False
            if port == old_port:
                return False
            server = next(s for s in self.servers if s.port == port)
            return 'role:master' in server.command('INFO', 'replication')

        self.wait_until(promoted, 'the sentinels to promote the replica', timeout)
        return time.monotonic() - started


@pytest.fixture
def redis_sentinel(tmp_path: Path) -> Iterator[RedisSentinel]:
    """A started :class:`RedisSentinel` of this test's own."""
    yield from started(RedisSentinel(tmp_path / 'sentinel'))


__all__ = ['SERVICE', 'RedisSentinel', 'Sentinel', 'redis_sentinel']
