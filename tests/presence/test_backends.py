"""Presence through real brokers: two "processes" (each its own groups and backend).

The trackers talk through :class:`~aiotao.presence.GroupsChannel` over the
Redis and the MongoDB broadcast backends, as gunicorn workers do, on real
time with short settings.  A process "killed" stops talking without
untracking anyone: its people leave once it has been silent for the
timeout, except those who came back through the other process.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest

from aiotao.presence import GroupsChannel, Presence, PresenceDiff, PresenceSettings
from aiotao.websocket.groups import Groups
from tests.harness.redis import RedisServer
from tests.websocket.backends.processes import process, wait_for

SETTINGS = PresenceSettings(heartbeat=0.1, timeout=0.8, linger=0.3)


class Heard:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, diff: PresenceDiff) -> None:
        if not diff.catch_up:
            self.lines += [f'joined {key}' for key in diff.joins]
            self.lines += [f'left {key}' for key in diff.leaves]


@asynccontextmanager
async def tracker(groups: Groups) -> AsyncIterator[tuple[Presence, Heard]]:
    presence = Presence(GroupsChannel(groups), SETTINGS)
    heard = Heard()
    presence.subscribe('room', heard)
    await presence.start()
    try:
        yield presence, heard
    finally:
        await presence.close()


@pytest.fixture(params=['redis', 'mongodb'])
def broadcast(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == 'redis':
        server = request.getfixturevalue('redis_server')
        assert isinstance(server, RedisServer)
        return {'aiotao.broadcast': server.url}
    uri = request.getfixturevalue('mongo_uri')
    return {'aiotao.broadcast': 'mongodb', 'mongo.uri': uri}


@pytest.mark.timeout(60)
async def test_presence_crosses_processes_and_outlives_a_killed_one(
    broadcast: dict[str, Any],
) -> None:
    async with AsyncExitStack() as stack:
        one_groups = await stack.enter_async_context(process(broadcast))
        two_groups = await stack.enter_async_context(process(broadcast))
        one, one_heard = await stack.enter_async_context(tracker(one_groups))
        two, two_heard = await stack.enter_async_context(tracker(two_groups))
        await wait_for(lambda: one.state and one.state.replicas(), 10)
        await wait_for(lambda: two.state and two.state.replicas(), 10)

        tab1 = await one.track('room', 'ada', {'nick': 'ada'})
        await two.track('room', 'ada', {'nick': 'ada'})  # her second tab
        await one.track('room', 'bob', {'nick': 'bob'})
        await wait_for(lambda: set(two.present('room')) == {'ada', 'bob'})
        await one.untrack(tab1)
        await asyncio.sleep(SETTINGS.linger * 2)
        assert two.present('room') == {'ada': {'nick': 'ada'}, 'bob': {'nick': 'bob'}}

        # process "one" is killed: not a word more, nothing untracked
        assert one._runner is not None
        one._runner.cancel()
        await one_groups.close()
        # bob's page comes back through process two
        await two.track('room', 'bob', {'nick': 'bob'})
        await asyncio.sleep(SETTINGS.timeout * 2)
        assert two.present('room') == {'ada': {'nick': 'ada'}, 'bob': {'nick': 'bob'}}
        assert two_heard.lines == ['joined ada', 'joined bob']
        assert one_heard.lines == ['joined ada', 'joined bob']


@pytest.mark.timeout(30)
async def test_one_process_with_the_memory_backend() -> None:
    async with process({'aiotao.broadcast': 'memory'}) as groups:
        async with tracker(groups) as (presence, heard):
            ref = await presence.track('room', 'ada', {'nick': 'ada'})
            await presence.untrack(ref)
            await wait_for(lambda: heard.lines == ['joined ada', 'left ada'], 5)
