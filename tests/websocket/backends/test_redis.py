"""RedisBackend against a real redis-server: two "processes" share broadcasts."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
import redis.asyncio

from aiotao.websocket.backends.redis import RedisBackend
from tests.harness.redis import RedisServer
from tests.websocket.backends.processes import member_of, process, wait_for
from tests.websocket.backends.proxy import TcpProxy


def settings_for(server: RedisServer, **more: str) -> dict[str, str]:
    return {'aiotao.broadcast': server.url, **more}


async def subscribers(server: RedisServer, channel: str) -> int:
    client = redis.asyncio.Redis.from_url(server.url)
    try:
        ((_, count),) = await client.pubsub_numsub(channel)
        return int(count)
    finally:
        await client.aclose()


async def test_broadcast_reaches_every_process_once_keeping_its_type(
    redis_server: RedisServer,
) -> None:
    settings = settings_for(redis_server)
    async with process(settings) as one, process(settings) as two:
        here, there, elsewhere = (
            await member_of(one),
            await member_of(two),
            await member_of(two, 'other room'),
        )
        await one.broadcast('room', 'hi ☃')
        await one.broadcast('room', b'\x00\xff')
        await two.broadcast('room', 'hello back')
        await wait_for(lambda: len(here.received) == 3 and len(there.received) == 3)
        await asyncio.sleep(0.1)  # anything extra (an echo) would be here by now
        # each once, each process's in the order it sent them
        assert here.received == ['hi ☃', b'\x00\xff', 'hello back']
        assert sorted(there.received, key=repr) == sorted(here.received, key=repr)
        assert [m for m in there.received if m != 'hello back'] == ['hi ☃', b'\x00\xff']
        assert elsewhere.received == []


async def test_join_returns_once_messages_from_others_arrive(
    redis_server: RedisServer,
) -> None:
    settings = settings_for(redis_server)
    async with process(settings) as one, process(settings) as two:
        await member_of(one)  # one is connected and subscribed
        for n in range(5):
            late = await member_of(two, f'room {n}')
            await one.broadcast(f'room {n}', 'first message')
            await wait_for(lambda late=late: late.received == ['first message'], 2)


async def test_prefix_keeps_applications_apart(redis_server: RedisServer) -> None:
    shop, blog = (
        settings_for(redis_server, **{'aiotao.broadcast.prefix': f'{app}:'})
        for app in ('shop', 'blog')
    )
    async with process(shop) as shop1, process(shop) as shop2, process(blog) as blog1:
        customer, reader = await member_of(shop2), await member_of(blog1)
        await shop1.broadcast('room', 'sale')
        await wait_for(lambda: customer.received == ['sale'])
        assert await subscribers(redis_server, 'shop:room') == 1
        assert await subscribers(redis_server, 'blog:room') == 1
        assert reader.received == []


async def test_the_last_member_leaving_unsubscribes(redis_server: RedisServer) -> None:
    async with process(settings_for(redis_server)) as one:
        first, second = await member_of(one), await member_of(one)
        assert await subscribers(redis_server, 'aiotao:room') == 1
        await one.leave('room', first)
        assert await subscribers(redis_server, 'aiotao:room') == 1
        await one.leave('room', second)
        async with asyncio.timeout(5):
            while await subscribers(redis_server, 'aiotao:room'):
                await asyncio.sleep(0.01)


async def test_redis_outage_keeps_local_delivery_and_recovers(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, 'aiotao.broadcast')
    settings = settings_for(redis_server)
    async with process(settings) as one, process(settings) as two:
        here, neighbour, there = (
            await member_of(one),
            await member_of(one),
            await member_of(two),
        )
        await one.broadcast('room', 'before')
        await wait_for(lambda: there.received == ['before'])

        redis_server.stop()
        await wait_for(lambda: not one.backend.connected and not two.backend.connected)
        started = time.monotonic()
        for n in range(50):
            await one.broadcast('room', f'during {n}')
        # local members got every message at once; nothing waited on Redis
        assert time.monotonic() - started < 0.5
        assert (
            neighbour.received
            == here.received
            == ['before'] + [f'during {n}' for n in range(50)]
        )
        backend = one.backend
        assert isinstance(backend, RedisBackend)
        assert backend.dropped >= 50
        # a member joining while Redis is down joins at once, locally
        late = await asyncio.wait_for(member_of(one), 0.5)

        redis_server.start()  # same port, empty: every subscription is gone
        async with asyncio.timeout(15):
            while 'after' not in there.received:
                await one.broadcast('room', 'after')
                await asyncio.sleep(0.1)
            while 'after from two' not in late.received:
                await two.broadcast('room', 'after from two')
                await asyncio.sleep(0.1)

    lost = [
        r.getMessage() for r in caplog.records if ' lost Redis at ' in r.getMessage()
    ]
    back = [
        r.getMessage() for r in caplog.records if ' is back after ' in r.getMessage()
    ]
    assert len(lost) == 2, lost  # once per process, not once per message
    assert f'lost Redis at {redis_server.url} (ConnectionError' in lost[0]
    assert len(back) == 2, back
    assert any(
        'did not reach the other processes meanwhile' in line
        and not line.endswith(
            '; 0 broadcasts did not reach the other processes meanwhile'
        )
        for line in back
    )


async def test_an_unreachable_redis_at_start_is_retried(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    redis_server.stop()
    settings = settings_for(redis_server)
    async with process(settings) as one, process(settings) as two:
        started = time.monotonic()
        here, there = await member_of(one), await member_of(two)
        # join waits for the first attempt (bounded by the timeout), no longer
        assert time.monotonic() - started < 3
        await one.broadcast('room', 'alone')
        assert here.received == ['alone']
        assert any('cannot reach Redis at' in r.getMessage() for r in caplog.records)

        redis_server.start()
        async with asyncio.timeout(15):
            while 'together' not in there.received:
                await one.broadcast('room', 'together')
                await asyncio.sleep(0.1)


async def test_a_silent_network_is_noticed_by_a_ping(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with TcpProxy('127.0.0.1', redis_server.port) as proxy:
        behind_proxy = {'aiotao.broadcast': f'redis://127.0.0.1:{proxy.port}/0'}
        async with process(behind_proxy) as one:
            backend = one.backend
            assert isinstance(backend, RedisBackend)
            backend.idle_ping = 0.2  # instead of 15 s
            await member_of(one)
            assert backend.connected
            proxy.freeze()  # no FIN, no RST: only silence
            await wait_for(lambda: not backend.connected, 5)
    assert any(
        'no answer to a PING within 1 s' in r.getMessage() for r in caplog.records
    )


async def test_foreign_messages_on_the_channel_are_skipped(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        process(settings_for(redis_server)) as one,
        process(settings_for(redis_server)) as two,
    ):
        there = await member_of(two)
        client = redis.asyncio.Redis.from_url(redis_server.url)
        try:
            await client.publish('aiotao:room', 'not from aiotao')
            await client.publish('aiotao:room', 'still not')
        finally:
            await client.aclose()
        await one.broadcast('room', 'real')
        await wait_for(lambda: there.received == ['real'])
    foreign = [
        r for r in caplog.records if 'that aiotao did not publish' in r.getMessage()
    ]
    assert len(foreign) == 1


async def test_close_leaves_no_task_and_no_connection(
    redis_server: RedisServer,
) -> None:
    async with process(settings_for(redis_server)) as one:
        await member_of(one)
        await one.broadcast('room', 'hi')
    assert asyncio.all_tasks() == {asyncio.current_task()}
    client = redis.asyncio.Redis.from_url(redis_server.url)
    try:
        clients = await client.client_list()
    finally:
        await client.aclose()
    assert len(clients) == 1  # the one asking


async def test_members_are_told_to_resync_after_an_outage(
    redis_server: RedisServer,
) -> None:
    settings = settings_for(redis_server)
    async with process(settings) as one, process(settings) as two:
        resynced: list[frozenset[str]] = []

        async def resync(groups: frozenset[str]) -> None:
            resynced.append(groups)

        two.on_resync(resync)
        await member_of(two, 'room')
        await member_of(two, 'hall')
        await member_of(one, 'room')
        await asyncio.sleep(0.2)
        assert resynced == []  # the first connection is no reconnection

        redis_server.stop()
        await one.broadcast('room', 'missed by two')
        redis_server.start()
        await wait_for(lambda: frozenset({'room', 'hall'}) in resynced, 15)
        # told once it is subscribed again: what follows arrives (once the
        # other process is back too)
        there = await member_of(two, 'room')
        async with asyncio.timeout(15):
            while 'after' not in there.received:
                await one.broadcast('room', 'after')
                await asyncio.sleep(0.1)
