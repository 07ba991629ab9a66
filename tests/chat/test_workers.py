"""The chat served by several gunicorn workers, and by several masters.

Clients connected to different workers (or to two gunicorn masters on
different ports, standing in for two machines) all receive every message,
with the Redis and with the MongoDB broadcast backend.  A worker killed
with SIGKILL mid-chat loses no acknowledged message; the other worker's
clients keep chatting, the killed worker's clients reconnect and get the
history, and its members who did not come back leave the member lists
within the presence timeout, while those who did are never announced as
gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId

from aiotao.chat.history import MESSAGES_COLLECTION
from tests.chat.clients import ChatClient, clients_on_every_worker, serve_chat
from tests.harness.gunicorn import ServerFactory
from tests.harness.redis import RedisServer, redis_server

__all__ = ['redis_server']

QUICK = {
    'aiotao.chat.rate': '1000',
    'aiotao.chat.burst': '1000',
    'aiotao.chat.history_size': '500',
    'aiotao.presence.heartbeat': '0.3',
    'aiotao.presence.timeout': '1.5',
    'aiotao.presence.linger': '0.3',
    'aiotao.broadcast.timeout': '1',
    'aiotao.broadcast.retry_max': '0.5',
    'mongo.option.serverSelectionTimeoutMS': '3000',
}


def settings(mongo_uri: str, broadcast: str) -> dict[str, str]:
    return {'mongo.uri': mongo_uri, 'aiotao.broadcast': broadcast, **QUICK}


async def everyone_hears_everyone(clients: list[ChatClient]) -> None:
    for speaker in clients:
        text = f'{speaker.user} on worker {speaker.worker}'
        await speaker.say(text)
        for listener in clients:
            await listener.wait_for(lambda m, text=text: m.get('text') == text)


@pytest.fixture
def broadcast(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == 'mongodb':
        return 'mongodb'
    server = request.getfixturevalue('redis_server')
    assert isinstance(server, RedisServer)
    return server.url


@pytest.mark.timeout(90)
@pytest.mark.parametrize('broadcast', ['redis', 'mongodb'], indirect=True)
async def test_clients_of_two_workers_hear_each_other(
    gunicorn: ServerFactory, tmp_path: Path, mongo_uri: str, broadcast: str
) -> None:
    server = serve_chat(gunicorn, tmp_path, settings(mongo_uri, broadcast))
    url = server.url('/chat/lobby', scheme='ws')
    clients = await clients_on_every_worker(url, ['ada', 'bob', 'cy'])
    try:
        assert len({client.worker for client in clients}) == 2
        # presence is shared: the first to join is told of everyone, on
        # both workers (connections tried on a busy worker and closed by
        # clients_on_every_worker come and go meanwhile: the list is awaited)
        everyone = ['ada', 'bob', 'cy']
        for client in clients:
            await client.wait_for(
                lambda m: m['type'] == 'members' and m['members'] == everyone
            )
        await everyone_hears_everyone(clients)
        # a newcomer, wherever it lands, gets the history in order
        late = await ChatClient(url, 'dee').connect()
        history = next(m for m in late.received if m['type'] == 'history')
        assert [m['text'] for m in history['messages']] == [
            f'{c.user} on worker {c.worker}' for c in clients
        ]
        await late.close()
    finally:
        for client in clients:
            await client.close()


@pytest.mark.timeout(90)
async def test_two_masters_sharing_redis_are_one_chat(
    gunicorn: ServerFactory,
    tmp_path: Path,
    mongo_uri: str,
    redis_server: RedisServer,
) -> None:
    shared = settings(mongo_uri, redis_server.url)
    one = serve_chat(gunicorn, tmp_path / 'one', shared, workers=1)
    two = serve_chat(gunicorn, tmp_path / 'two', shared, workers=1)
    assert one.port != two.port
    ada = await ChatClient(one.url('/chat/lobby', scheme='ws'), 'ada').connect()
    bob = await ChatClient(two.url('/chat/lobby', scheme='ws'), 'bob').connect()
    try:
        await ada.wait_for(
            lambda m: m['type'] == 'members' and m['members'] == ['ada', 'bob']
        )
        await everyone_hears_everyone([ada, bob])
    finally:
        await ada.close()
        await bob.close()


async def chatter(client: ChatClient, acked: list[str], stop: asyncio.Event) -> None:
    """Say numbered messages until stopped or disconnected; keep the acknowledged ids."""
    n = 0
    while not stop.is_set():
        n += 1
        try:
            acked.append(await client.say(f'{client.user} {n}'))
        except ConnectionError:
            return


@pytest.mark.timeout(120)
async def test_kill_9_of_a_worker_mid_chat_loses_no_acknowledged_message(
    gunicorn: ServerFactory,
    tmp_path: Path,
    mongo_uri: str,
    mongo_db: Any,
    redis_server: RedisServer,
) -> None:
    server = serve_chat(gunicorn, tmp_path, settings(mongo_uri, redis_server.url))
    url = server.url('/chat/lobby', scheme='ws')
    clients = await clients_on_every_worker(url, ['ada', 'bob', 'cy'])
    by_worker: dict[int, list[ChatClient]] = {}
    for client in clients:
        assert client.worker is not None
        by_worker.setdefault(client.worker, []).append(client)
    # the worker with more clients is killed: one reconnects, one is gone
    (victim, doomed), (_, spared) = sorted(
        by_worker.items(), key=lambda item: -len(item[1])
    )
    try:
        stop = asyncio.Event()
        acked: dict[str, list[str]] = {client.user: [] for client in clients}
        tasks = [
            asyncio.create_task(chatter(client, acked[client.user], stop))
            for client in clients
        ]
        # mid-chat: every client has had messages acknowledged
        async with asyncio.timeout(20):
            while min(len(ids) for ids in acked.values()) < 5:
                await asyncio.sleep(0.02)
        os.kill(victim, signal.SIGKILL)
        for client in doomed:
            await asyncio.wait_for(client.closed.wait(), 10)
        # the other worker's clients keep chatting
        before = {client.user: len(acked[client.user]) for client in spared}
        async with asyncio.timeout(20):
            while any(len(acked[c.user]) < before[c.user] + 5 for c in spared):
                await asyncio.sleep(0.02)
        stop.set()
        await asyncio.gather(*tasks)

        # every acknowledged message is in the history
        every = [ObjectId(id) for ids in acked.values() for id in ids]
        stored = mongo_db[MESSAGES_COLLECTION].count_documents({'_id': {'$in': every}})
        assert stored == len(every)

        # the killed worker's clients reconnect (to the survivor or the
        # worker gunicorn boots in its place) and get the history
        deadline = time.monotonic() + 30
        while len(server.worker_pids()) < 3:
            assert time.monotonic() < deadline, server.log()
            await asyncio.sleep(0.05)
        rejoined = doomed[0]
        await rejoined.connect()
        assert rejoined.worker != victim
        history = [m for m in rejoined.received if m['type'] == 'history'][-1]
        in_history = {m['id'] for m in history['messages']}
        # (a message stored as the worker died may be there unacknowledged)
        assert {str(id) for id in every} <= in_history
        await everyone_hears_everyone([rejoined, *spared])

        # the killed worker's members are gone once its entries go stale
        if len(doomed) > 1:
            gone = doomed[1].user
            watcher = spared[0]
            await watcher.wait_for(
                lambda m: m['type'] == 'left' and m['nick'] == gone, 10
            )
            assert (
                gone
                not in (
                    await watcher.wait_for(
                        lambda m: m['type'] == 'members' and gone not in m['members'], 5
                    )
                )['members']
            )
        # the one who reconnected was never announced as gone, nor back
        await asyncio.sleep(2)  # longer than aiotao.presence.timeout
        for watcher in spared:
            lines = [m for m in watcher.received if m['type'] in ('joined', 'left')]
            assert {'type': 'left', 'room': 'lobby', 'nick': rejoined.user} not in lines
            assert (
                lines.count({'type': 'joined', 'room': 'lobby', 'nick': rejoined.user})
                <= 1
            )
    finally:
        for client in clients:
            with contextlib.suppress(Exception):
                await client.close()
