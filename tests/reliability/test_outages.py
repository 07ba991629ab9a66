"""MongoDB and Redis stopped and restarted while people chat on two workers.

The chat test app (``tests/chat/app.py``) on two aiotao workers, its
history in a MongoDB of the test's own and its broadcasts through Redis.
Clients on both workers keep chatting while each server goes away and
comes back:

* MongoDB down: a message cannot be stored, so it is refused with the
  ``unavailable`` error (never acknowledged, so never "lost"), quickly;
* Redis down: messages are still stored and acknowledged, and delivered
  to the room's members on the sender's worker (degraded, not down);
* after each restart: full delivery again, across the workers;
* throughout: the same two workers (no crash), and their memory bounded
  (nothing buffered without bound while a server was away).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aiotao.testing.mongodb_server import MongoDBServer
from tests.chat.clients import ChatClient, clients_on_every_worker, serve_chat
from tests.harness.gunicorn import ServerFactory
from tests.harness.mongodb import private_mongodb
from tests.harness.redis import RedisServer, redis_server
from tests.reliability.probes import rss_kib

__all__ = ['private_mongodb', 'redis_server']

QUICK = {
    'aiotao.chat.rate': '1000',
    'aiotao.chat.burst': '1000',
    'aiotao.presence.heartbeat': '0.3',
    'aiotao.presence.timeout': '1.5',
    'aiotao.presence.linger': '0.3',
    'aiotao.broadcast.timeout': '1',
    'aiotao.broadcast.retry_max': '0.5',
    'mongo.option.serverSelectionTimeoutMS': '1500',
}
#: Messages each client sends while a server is away.  While MongoDB is
#: away each waits ``serverSelectionTimeoutMS`` before its refusal, and a
#: connection handles its messages one at a time: a few are enough.
DURING = 20
DURING_MONGODB = 3
RSS_GROWTH_LIMIT = 32 * 1024  # KiB


def has_text(text: str) -> Callable[[dict[str, Any]], bool]:
    """A ``wait_for`` predicate: a chat message with ``text``."""
    return lambda message: message.get('text') == text


async def refused(client: ChatClient, text: str) -> str:
    """The error code of a ``say`` that must be refused."""
    try:
        await client.say(text, timeout=DURING_MONGODB * 1.5 + 10)
    except AssertionError as exc:
        return 'unavailable' if "'unavailable'" in str(exc) else str(exc)
    return 'acknowledged'


async def heard_across(clients: list[ChatClient], text: str, within: float) -> None:
    """Retry until a message of the first client reaches every other one."""
    async with asyncio.timeout(within):
        n = 0
        while True:
            n += 1
            attempt = f'{text} {n}'
            await clients[0].say(attempt)
            try:
                for listener in clients[1:]:
                    await listener.wait_for(has_text(attempt), timeout=0.5)
                return
            except TimeoutError:
                continue


@pytest.mark.timeout(120)
async def test_mongodb_and_redis_away_and_back_under_chat(
    gunicorn: ServerFactory,
    tmp_path: Path,
    private_mongodb: MongoDBServer,
    redis_server: RedisServer,
) -> None:
    mongodb = private_mongodb
    settings = {
        'mongo.uri': mongodb.uri_for('chat'),
        'aiotao.broadcast': redis_server.url,
        **QUICK,
    }
    server = serve_chat(gunicorn, tmp_path, settings)
    workers = sorted(server.worker_pids())
    url = server.url('/chat/lobby', scheme='ws')
    clients = await clients_on_every_worker(url, ['ada', 'bob'])
    try:
        await heard_across(clients, 'before', within=10)
        rss_before = {pid: rss_kib(pid) for pid in workers}

        # MongoDB away: every message refused, clearly and quickly
        mongodb.stop()
        codes = await asyncio.gather(
            *(
                refused(c, f'{c.user} lost {n}')
                for c in clients
                for n in range(DURING_MONGODB)
            )
        )
        assert set(codes) == {'unavailable'}, codes
        mongodb.start()
        await heard_across(clients, 'mongodb back', within=30)

        # Redis away: stored, acknowledged, delivered on the sender's worker
        redis_server.stop()
        for n in range(DURING):
            await clients[0].say(f'during redis outage {n}')
            # the room's members on the sender's worker still get it
            await clients[0].wait_for(has_text(f'during redis outage {n}'))
        redis_server.start()
        await heard_across(clients, 'redis back', within=30)
        await heard_across(clients[::-1], 'redis back, other way', within=30)

        rss_after = {pid: rss_kib(pid) for pid in workers}
    finally:
        for client in clients:
            await client.close()

    print(
        f'\nMongoDB away: {len(codes)} messages refused as unavailable; '
        f'Redis away: {DURING} stored and acknowledged; worker RSS KiB '
        f'{rss_before} -> {rss_after}'
    )
    assert sorted(server.worker_pids()) == workers  # no worker was replaced
    for pid in workers:
        assert rss_after[pid] - rss_before[pid] < RSS_GROWTH_LIMIT
