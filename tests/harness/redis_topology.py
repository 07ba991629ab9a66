"""What the Sentinel and Cluster harnesses share: waiting on many servers, stopping them.

A topology is several :class:`~tests.harness.redis.RedisServer` started
together; a subclass says which (:meth:`RedisTopology.members`) and how to
start them.  Waiting for a state (replication up, a failover done) polls
until it holds and, on timeout, raises with the tail of every member's log
-- what one needs to see why a topology never came up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Self, TypeVar

import pytest

from tests.harness.redis import RedisServer, RedisServerMissing

WAIT_TIMEOUT = 30.0

Topology = TypeVar('Topology', bound='RedisTopology')


class RedisTopology:
    """Servers started and stopped together (subclasses: Sentinel, Cluster)."""

    def members(self) -> Sequence[RedisServer]:
        """Every server of the topology, in the order they are stopped."""
        raise NotImplementedError

    def start(self) -> Self:
        raise NotImplementedError

    def wait_until(
        self, ready: Callable[[], bool], what: str, timeout: float = WAIT_TIMEOUT
    ) -> None:
        """Poll ``ready`` until true; on timeout a :exc:`RuntimeError` with the logs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if ready():
                    return
            except RuntimeError:  # redis-cli failed: a member is not up yet
                pass
            time.sleep(0.1)
        logs = '\n'.join(
            f'--- {server.log_path}\n{server._log_tail()}' for server in self.members()
        )
        raise RuntimeError(f'timed out waiting for {what}:\n{logs}')

    def stop(self) -> None:
        for server in self.members():
            server.stop()


def started(topology: Topology) -> Iterator[Topology]:
    """A fixture's body: start ``topology``, yield it, stop it whatever happens."""
    try:
        try:
            topology.start()
        except RedisServerMissing as exc:
            pytest.fail(str(exc), pytrace=False)
        yield topology
    finally:
        topology.stop()


__all__ = ['WAIT_TIMEOUT', 'RedisTopology', 'started']
