"""Real gunicorn workers and masters sharing broadcasts through Redis and MongoDB.

Each test serves :mod:`tests.pkgs.broadcastapp` (a websocket room that
broadcasts what it receives) and connects clients until they sit on
different workers (the room says which: ``joined <pid>``).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.harness.gunicorn import ServerFactory, ServerProcess
from tests.pkgs.broadcastapp.served import serve, worker_pids_serving

pytestmark = pytest.mark.timeout(90)


@dataclass
class Broker:
    """The broker the workers share, and how to take it away and back."""

    name: str
    settings: dict[str, str]
    stop: Callable[[], None]
    start: Callable[[], None]
    #: the log line of a worker that lost it
    lost: str


@pytest.fixture(params=['redis', 'mongodb'])
def broker(request: pytest.FixtureRequest) -> Broker:
    quick = {'aiotao.broadcast.timeout': '2', 'aiotao.broadcast.retry_max': '1'}
    if request.param == 'redis':
        redis = request.getfixturevalue('redis_server')
        return Broker(
            'redis',
            {'aiotao.broadcast': redis.url, **quick},
            redis.stop,
            redis.start,
            f'lost Redis at {redis.url}',
        )
    mongodb = request.getfixturevalue('private_mongodb')
    return Broker(
        'mongodb',
        {
            'aiotao.broadcast': 'mongodb',
            'mongo.uri': mongodb.uri_for('chat'),
            'mongo.option.serverSelectionTimeoutMS': '1000',
            **quick,
        },
        mongodb.stop,
        mongodb.start,
        f'lost MongoDB at {mongodb.uri_for("chat")}',
    )


Clients = dict[int, list[ClientConnection]]


async def join(
    stack: AsyncExitStack, server: ServerProcess
) -> tuple[int, ClientConnection]:
    client = await stack.enter_async_context(
        connect(server.url('/room/lobby', scheme='ws'), open_timeout=10)
    )
    hello = await asyncio.wait_for(client.recv(), 10)
    assert isinstance(hello, str) and hello.startswith('joined ')
    return int(hello.split()[1]), client


async def clients_on_workers(
    stack: AsyncExitStack, server: ServerProcess, workers: int, each: int = 1
) -> Clients:
    """Connect until each of ``workers`` workers has ``each`` clients.

    The kernel hands connections to whichever worker accepts first: while
    one is still booting (a loaded machine), the others take them all, so
    this keeps trying, a little apart, for up to half a minute.
    """
    clients: Clients = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pid, client = await join(stack, server)
        clients.setdefault(pid, []).append(client)
        if len(clients) == workers and all(len(c) >= each for c in clients.values()):
            return clients
        if len(clients[pid]) > each:  # that worker has its share: let the others boot
            await asyncio.sleep(0.1)
    counts = {pid: len(c) for pid, c in clients.items()}
    raise AssertionError(f'in 30 s, clients went only to workers {counts}')


def stop_cleanly(*servers: ServerProcess) -> None:
    """Stop gracefully: the backends close without a complaint in the log."""
    for server in servers:
        assert server.stop() == 0
        log = server.log()
        for complaint in (
            'Traceback',
            'Task was destroyed',
            'Unclosed',
            'never awaited',
        ):
            assert complaint not in log, log


async def everyone_receives(
    clients: list[ClientConnection], message: str | bytes
) -> None:
    for client in clients:
        assert await asyncio.wait_for(client.recv(), 10) == message


async def receive_until(client: ClientConnection, wanted: str, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while await client.recv() != wanted:
            pass


async def test_clients_on_two_workers_of_one_master_all_receive_every_message(
    broker: Broker, gunicorn: ServerFactory, tmp_path: Path
) -> None:
    server = serve(gunicorn, tmp_path / 'master', workers=2, **broker.settings)
    await asyncio.to_thread(worker_pids_serving, server, 2)
    async with AsyncExitStack() as stack:
        by_worker = await clients_on_workers(stack, server, workers=2)
        everyone = [client for clients in by_worker.values() for client in clients]
        for pid, clients in by_worker.items():
            await clients[0].send(f'text from {pid}')
            await everyone_receives(everyone, f'text from {pid}')
            await clients[0].send(f'bytes from {pid}'.encode())
            await everyone_receives(everyone, f'bytes from {pid}'.encode())
    stop_cleanly(server)


async def test_two_masters_on_different_ports_share_the_broker(
    broker: Broker, gunicorn: ServerFactory, tmp_path: Path
) -> None:
    # two machines, as far as the broker can tell
    one = serve(gunicorn, tmp_path / 'one', workers=1, **broker.settings)
    two = serve(gunicorn, tmp_path / 'two', workers=1, **broker.settings)
    assert one.port != two.port
    async with AsyncExitStack() as stack:
        (pid_one, on_one), (pid_two, on_two) = (
            await join(stack, one),
            await join(stack, two),
        )
        assert pid_one != pid_two
        await on_one.send('hello from one')
        await everyone_receives([on_one, on_two], 'hello from one')
        await on_two.send(b'\x00 from two')
        await everyone_receives([on_one, on_two], b'\x00 from two')
    stop_cleanly(one, two)


async def test_broker_outage_under_running_workers(
    broker: Broker, gunicorn: ServerFactory, tmp_path: Path
) -> None:
    server = serve(gunicorn, tmp_path / 'master', workers=2, **broker.settings)
    workers = await asyncio.to_thread(worker_pids_serving, server, 2)
    async with AsyncExitStack() as stack:
        by_worker = await clients_on_workers(stack, server, workers=2, each=2)
        (a1, a2, *_), (b1, *_) = by_worker.values()
        await a1.send('before')
        await everyone_receives([a1, a2, b1], 'before')

        broker.stop()
        # Local delivery goes on, several messages, and the worker serves
        for n in range(5):
            await a1.send(f'local {n}')
            await everyone_receives([a1, a2], f'local {n}')
        assert await asyncio.to_thread(worker_pids_serving, server, 2) == workers
        for n in range(5):
            await b1.send(f'local b {n}')
            await everyone_receives([b1], f'local b {n}')
        await asyncio.sleep(1)  # let every worker notice

        broker.start()
        # cross-worker delivery resumes, both ways, within a bounded wait
        async with asyncio.timeout(30):
            while True:
                await a1.send('after')
                try:
                    await receive_until(b1, 'after', 0.5)
                    break
                except TimeoutError:
                    continue
            while True:
                await b1.send('reply')
                try:
                    await receive_until(a2, 'reply', 0.5)
                    break
                except TimeoutError:
                    continue

    # no worker crashed or was replaced; each logged the outage once
    assert server.process.poll() is None
    assert set(server.worker_pids()) == workers
    log = server.log()
    lost = re.findall(rf'\[(\d+)\] aiotao.broadcast: {re.escape(broker.lost)}', log)
    assert 1 <= len(lost) <= 2 and len(set(lost)) == len(lost), log
    assert set(map(int, lost)) <= workers
    stop_cleanly(server)
