"""Fan-out: one message to 1,000 websocket clients of a group, and what they cost.

    .venv/bin/python bench/fanout.py [--clients 1000] [--broadcasts 50]
                                     [--client-processes 2]
                                     [--only raw|one|redis|cluster]
                                     [--profile DIR]

Serves :mod:`tests.pkgs.broadcastapp` (a room that broadcasts what it
receives) with gunicorn on aiotao's worker, three times, after its peer:

* ``raw``: the same room on raw aiohttp.web (``bench/peers/fanout_aiohttp.py``:
  a set of sockets and ``await ws.send_str()`` for each; no Pyramid, no
  aiotao), one ``aiohttp.GunicornWebWorker``: the yardstick.  The ratios
  ``one``/``raw`` follow the table;

* ``one``: one worker, the in-memory backend;
* ``redis``: two workers sharing a ``redis-server`` (started here on a
  free port), the clients spread over both by the kernel;
* ``cluster``: two gunicorn masters of two workers each (two machines,
  standing in), sharing a Redis Cluster of three masters and three
  replicas made here (sharded pub/sub).  The clients are spread over the
  masters and over three rooms whose channels live on the three shards;
  each broadcast goes to the three rooms at once (so it still reaches
  every client), and the **broker CPU per shard** (each master
  ``redis-server``'s CPU time per broadcast) shows the load spread.

The clients are aiohttp websocket clients split over several processes (on
a small machine the clients, not the server, are the bottleneck).  One more
client, the sender, puts ``time.monotonic()`` in each message (the clock is
the same for every process of the machine); each client process notes when
the last of its connections received it.  Reported:

* **fan-out latency**: from the send to the last of the 1,000 receptions,
  p50/p99 over ``--broadcasts`` messages sent 0.2 s apart (and ``1st``:
  p50 of the send to the first reception, the way in);
* **deliveries/s**: 20 messages sent back to back, 1,000 receptions
  each, over the time from the first send to the last reception;
* **RSS per idle connection**: the workers' ``VmRSS`` (``/proc/PID/status``)
  before and after the clients connected and joined, divided by their
  number;
* the workers' CPU time per broadcast, and the client processes' (``clients
  cpu``): on a small machine both share the cores, and the fan-out cannot
  end before both are done.

The ratios to ``raw`` and the targets of the issue end the table: p99
fan-out to 1,000 clients under 100 ms on one worker, under 30 KiB of RSS
per idle connection.

``bench/fanout_floor.py`` is the floor under these figures: the same
fan-out with bare ``socket.send()`` calls and clients that only read.

``--profile DIR`` records the workers with ``py-spy`` (``pip install
py-spy``) during the latency run: ``DIR/<scenario>-<pid>.txt`` holds the
collapsed stacks (flamegraph input), and the busiest functions are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import aiohttp
from load import raise_open_files_limit
from server_process import ServerProcess, children, cpu_seconds, free_port

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests.harness.redis import RedisServer  # noqa: E402
from tests.harness.redis_cluster import RedisCluster  # noqa: E402

ROOM = '/room/bench'
#: Seconds between two broadcasts of the latency run: far more than a
#: fan-out takes, so that each is measured alone.
INTERVAL = 0.2
BURST = 20
#: The message: a chat line's size.
PADDING = 'x' * 80
TARGET_P99_MS = 100.0
TARGET_RSS_KIB = 30.0

INI = """\
[app:main]
use = call:tests.pkgs.broadcastapp:main
pyramid.reload_templates = false
{settings}

[loggers]
keys = root

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(asctime)s %(levelname)-5.5s [%(name)s] [%(process)d] %(message)s
"""


# -- the client processes ------------------------------------------------------


async def _client_main(urls: list[str], count: int, pipe: Connection) -> None:
    """Open ``count`` clients over ``urls`` in turn, record receptions, answer the parent."""
    first: dict[int, float] = {}
    last: dict[int, float] = {}
    received: dict[int, int] = {}
    workers: dict[int, int] = {}
    errors = 0

    async def read(ws: aiohttp.ClientWebSocketResponse) -> None:
        nonlocal errors
        async for message in ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                errors += 1
                break
            now = time.monotonic()
            number = int(message.data.split(' ', 2)[1])
            received[number] = received.get(number, 0) + 1
            if now > last.get(number, 0.0):
                last[number] = now
            if number not in first:
                first[number] = now

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def join(url: str) -> aiohttp.ClientWebSocketResponse:
            ws = await session.ws_connect(url, autoping=True, heartbeat=None)
            hello = await ws.receive_str(timeout=30)
            pid = int(hello.split()[1])
            workers[pid] = workers.get(pid, 0) + 1
            return ws

        sockets: list[aiohttp.ClientWebSocketResponse] = []
        for start in range(0, count, 50):  # a few at a time: no SYN flood
            sockets += await asyncio.gather(
                *(
                    join(urls[(start + n) % len(urls)])
                    for n in range(min(50, count - start))
                )
            )
        readers = [asyncio.create_task(read(ws)) for ws in sockets]
        loop = asyncio.get_running_loop()
        pipe.send(('ready', workers))
        while (command := await loop.run_in_executor(None, pipe.recv)) != 'close':
            if command == 'collect':
                # closed by the server before the end: dropped as too slow
                closed = sum(1 for ws in sockets if ws.closed)
                pipe.send(('results', first, last, received, errors + closed))
        for ws in sockets:
            await ws.close()
        await asyncio.gather(*readers, return_exceptions=True)
    pipe.send(('closed',))


def client_process(urls: list[str], count: int, pipe: Connection) -> None:
    raise_open_files_limit()
    asyncio.run(_client_main(urls, count, pipe))


# -- the server side -----------------------------------------------------------


def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` in KiB (``VmRSS``)."""
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1])
    raise RuntimeError(f'no VmRSS for {pid}')


def start_gunicorn(
    log_dir: Path, workers: int, settings: dict[str, str], name: str = ''
) -> ServerProcess:
    name = name or str(workers)
    ini = log_dir / f'fanout-{name}.ini'
    ini.write_text(
        INI.format(settings='\n'.join(f'{k} = {v}' for k, v in settings.items()))
    )
    port = free_port()
    argv = [
        str(Path(sys.executable).parent / 'gunicorn'),
        '--paste', str(ini),
        '--worker-class', 'aiotao.serving.gunicorn.Worker',
        '--workers', str(workers),
        '--bind', f'127.0.0.1:{port}',
        '--no-control-socket',
        '--graceful-timeout', '5',
        # (1,000 by default: the clients, the sender and /pid go over it)
        '--worker-connections', '10000',
    ]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    server = ServerProcess(
        f'aiotao x{workers}',
        argv,
        port,
        log_dir / f'fanout-{name}.log',
        cwd=log_dir,
        env=env,
        forks_worker=False,
    )
    server.wait_until_serving('/pid')
    deadline = time.monotonic() + 30
    while len(children(server.process.pid)) < workers:
        if time.monotonic() > deadline:
            raise RuntimeError(f'{workers} workers did not start: {server.log_tail()}')
        time.sleep(0.1)
    time.sleep(1)  # every worker has loaded the app
    return server


def start_raw_aiohttp(log_dir: Path) -> ServerProcess:
    """The peer: ``bench/peers/fanout_aiohttp.py`` on one aiohttp gunicorn worker."""
    port = free_port()
    argv = [
        str(Path(sys.executable).parent / 'gunicorn'),
        'fanout_aiohttp:app',
        '--chdir', str(REPO_ROOT / 'bench' / 'peers'),
        '--worker-class', 'aiohttp.GunicornWebWorker',
        '--workers', '1',
        '--bind', f'127.0.0.1:{port}',
        '--no-control-socket',
        '--graceful-timeout', '5',
        '--log-level', 'warning',
    ]  # fmt: skip
    server = ServerProcess(
        'raw aiohttp',
        argv,
        port,
        log_dir / 'fanout-raw.log',
        cwd=log_dir,
        env=dict(os.environ),
        forks_worker=True,
    )
    server.wait_until_serving('/pid')
    return server


# -- one scenario --------------------------------------------------------------


@dataclass
class Figures:
    name: str
    clients: int
    workers: dict[int, int]
    #: p50 of the send to the first reception: the way in, before the fan-out
    first_ms: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    deliveries_per_second: float
    rss_per_connection_kib: float
    cpu_ms_per_broadcast: float
    #: the client processes' CPU time per broadcast (same cores, same window)
    client_cpu_ms_per_broadcast: float
    missing: int
    #: clients the server closed (too slow: 1008) or that failed
    errors: int
    #: CPU ms per broadcast of each broker process (a shard's master), by name
    broker_cpu_ms: dict[str, float]


def start_profilers(
    name: str, pids: Sequence[int], directory: Path
) -> list[subprocess.Popen[bytes]]:
    py_spy = Path(sys.executable).parent / 'py-spy'
    if not py_spy.exists():
        raise SystemExit(f'--profile needs py-spy: pip install py-spy ({py_spy})')
    directory.mkdir(parents=True, exist_ok=True)
    return [
        subprocess.Popen(
            [str(py_spy), 'record', '--pid', str(pid), '--rate', '250', '--format',
             'raw', '--nonblocking', '-o', str(directory / f'{name}-{pid}.txt')],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid in pids
    ]  # fmt: skip


def stop_profilers(profilers: Sequence[subprocess.Popen[bytes]]) -> None:
    for profiler in profilers:
        profiler.send_signal(signal.SIGINT)
    for profiler in profilers:
        profiler.wait(30)


def busiest(collapsed: Path, top: int = 25) -> str:
    """The functions with the most samples anywhere on the stack (own + callees)."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(' ')
        frames = stack.split(';')
        samples = int(count)
        total += samples
        for frame in set(frames):
            inclusive[frame] += samples
        own[frames[-1]] += samples
    lines = [f'{collapsed.name}: {total} samples; inclusive %, own %, function']
    for frame, samples in inclusive.most_common(top):
        lines.append(
            f'  {100 * samples / total:5.1f} {100 * own[frame] / total:5.1f}  {frame}'
        )
    return '\n'.join(lines)


async def collect(
    pipes: Sequence[Connection],
) -> tuple[dict[int, float], dict[int, float], dict[int, int], int]:
    """What the client processes received so far: first, last, counts, errors."""
    loop = asyncio.get_running_loop()
    first: dict[int, float] = {}
    last: dict[int, float] = {}
    received: dict[int, int] = {}
    errors = 0
    for pipe in pipes:
        pipe.send('collect')
        (
            _,
            their_first,
            their_last,
            their_received,
            their_errors,
        ) = await loop.run_in_executor(None, pipe.recv)
        errors += their_errors
        for number, at in their_first.items():
            first[number] = min(first.get(number, at), at)
        for number, at in their_last.items():
            last[number] = max(last.get(number, 0.0), at)
        for number, count in their_received.items():
            received[number] = received.get(number, 0) + count
    return first, last, received, errors


async def run_scenario(
    name: str,
    servers: Sequence[ServerProcess],
    clients: int,
    broadcasts: int,
    processes: int,
    profile: Path | None = None,
    rooms: Sequence[str] = (ROOM,),
    brokers: dict[str, int] | None = None,
) -> Figures:
    """Clients spread over ``servers`` and ``rooms``; each broadcast goes to every room.

    ``brokers``: name -> pid of the broker processes whose CPU is measured.
    """
    urls = [server.url(room, scheme='ws') for room in rooms for server in servers]
    worker_pids = [pid for server in servers for pid in children(server.process.pid)]
    brokers = brokers or {}
    async with aiohttp.ClientSession() as session:
        senders = [
            await session.ws_connect(servers[0].url(room, scheme='ws'))
            for room in rooms
        ]
        for sender in senders:
            await sender.receive_str(timeout=10)
            for n in range(3):  # warm up the code paths before measuring memory
                await sender.send_str(f'warmup {-1 - n} {time.monotonic():.9f}')
                await sender.receive_str(timeout=10)
        await asyncio.sleep(0.5)
        rss_before = sum(rss_kib(pid) for pid in worker_pids)

        context = multiprocessing.get_context('spawn')
        pipes: list[Connection] = []
        procs = []
        for index in range(processes):
            share = clients // processes + (index < clients % processes)
            parent_end, child_end = context.Pipe()
            proc = context.Process(
                target=client_process, args=(urls, share, child_end), daemon=True
            )
            proc.start()
            pipes.append(parent_end)
            procs.append(proc)
        loop = asyncio.get_running_loop()
        workers: dict[int, int] = {}
        for pipe in pipes:
            kind, spread = await loop.run_in_executor(None, pipe.recv)
            assert kind == 'ready'
            for pid, count in spread.items():
                workers[pid] = workers.get(pid, 0) + count
        await asyncio.sleep(1.0)
        rss_after = sum(rss_kib(pid) for pid in worker_pids)

        async def send(number: int) -> float:
            sent = time.monotonic()
            for sender in senders:  # the same number to every room
                await sender.send_str(f'bench {number} {sent:.9f} {PADDING}')
            return sent

        async def drain_sender(sender: aiohttp.ClientWebSocketResponse) -> None:
            async for _ in sender:
                pass

        drainers = [asyncio.create_task(drain_sender(sender)) for sender in senders]
        profilers = start_profilers(name, worker_pids, profile) if profile else []
        await asyncio.sleep(1.0 if profile else 0)
        cpu_before = sum(cpu_seconds(pid) for pid in worker_pids)
        client_pids = [proc.pid for proc in procs if proc.pid is not None]
        clients_before = sum(cpu_seconds(pid) for pid in client_pids)
        brokers_before = {broker: cpu_seconds(pid) for broker, pid in brokers.items()}
        sent_at: dict[int, float] = {}
        for number in range(broadcasts):
            sent_at[number] = await send(number)
            await asyncio.sleep(INTERVAL)
        await asyncio.sleep(1.0)
        cpu_after = sum(cpu_seconds(pid) for pid in worker_pids)
        clients_after = sum(cpu_seconds(pid) for pid in client_pids)
        broker_cpu_ms = {
            broker: (cpu_seconds(pid) - brokers_before[broker]) * 1000 / broadcasts
            for broker, pid in brokers.items()
        }
        stop_profilers(profilers)
        burst = range(broadcasts, broadcasts + BURST)
        for number in burst:
            sent_at[number] = await send(number)
        # Wait for the stragglers (a starved client process reads late):
        # until every reception arrived, or none arrived for 3 s.
        expected = clients * len(sent_at)
        previous, quiet_since = -1, time.monotonic()
        while True:
            await asyncio.sleep(0.5)
            first, last, received, errors = await collect(pipes)
            total = sum(received.values())
            if total >= expected or time.monotonic() - quiet_since > 3:
                break
            if total != previous:
                previous, quiet_since = total, time.monotonic()
        for pipe in pipes:
            pipe.send('close')
        for pipe, proc in zip(pipes, procs, strict=True):
            await loop.run_in_executor(None, pipe.recv)
            await loop.run_in_executor(None, proc.join, 10)
        for sender in senders:
            await sender.close()
        for draining in drainers:
            draining.cancel()

    latencies = sorted(
        (last[n] - sent_at[n]) * 1000 for n in range(broadcasts) if n in last
    )
    # receptions that never happened (a client closed as too slow misses
    # everything after; see the "closed" column)
    firsts = [(first[n] - sent_at[n]) * 1000 for n in range(broadcasts) if n in first]
    missing = sum(clients - received.get(n, 0) for n in sent_at)
    burst_end = max((last[n] for n in burst if n in last), default=sent_at[burst[0]])
    burst_delivered = sum(received.get(n, 0) for n in burst)
    return Figures(
        name=name,
        clients=clients,
        workers=workers,
        first_ms=statistics.median(firsts),
        p50_ms=statistics.median(latencies),
        p99_ms=statistics.quantiles(latencies, n=100, method='inclusive')[98],
        max_ms=latencies[-1],
        deliveries_per_second=burst_delivered / (burst_end - sent_at[burst[0]]),
        rss_per_connection_kib=(rss_after - rss_before) / clients,
        cpu_ms_per_broadcast=(cpu_after - cpu_before) * 1000 / broadcasts,
        client_cpu_ms_per_broadcast=(clients_after - clients_before)
        * 1000
        / broadcasts,
        missing=missing,
        errors=errors,
        broker_cpu_ms=broker_cpu_ms,
    )


# -- the report ----------------------------------------------------------------


def report(results: Sequence[Figures]) -> str:
    lines = [
        f'{"scenario":<10} {"clients (per worker)":<24} {"1st ms":>7} '
        f'{"p50 ms":>7} {"p99 ms":>7} '
        f'{"max ms":>7} {"deliv/s":>9} {"KiB/conn":>9} {"cpu ms/bc":>10} '
        f'{"clients cpu":>12} {"missing":>8} {"closed":>7}',
    ]
    for r in results:
        spread = '+'.join(str(n) for n in sorted(r.workers.values(), reverse=True))
        lines.append(
            f'{r.name:<10} {f"{r.clients} ({spread})":<24} {r.first_ms:>7.1f} '
            f'{r.p50_ms:>7.1f} '
            f'{r.p99_ms:>7.1f} {r.max_ms:>7.1f} {r.deliveries_per_second:>9.0f} '
            f'{r.rss_per_connection_kib:>9.1f} {r.cpu_ms_per_broadcast:>10.2f} '
            f'{r.client_cpu_ms_per_broadcast:>12.2f} {r.missing:>8} {r.errors:>7}'
        )
    for r in results:
        if r.broker_cpu_ms:
            shards = ', '.join(f'{b} {ms:.2f}' for b, ms in r.broker_cpu_ms.items())
            lines.append(f'{r.name}: broker CPU ms per broadcast, by shard: {shards}')
    one = next((r for r in results if r.name == 'one'), None)
    raw = next((r for r in results if r.name == 'raw'), None)
    if one is not None and raw is not None:
        lines += [
            '',
            f'aiotao (one) / raw aiohttp: p50 {one.p50_ms / raw.p50_ms:.2f}, '
            f'p99 {one.p99_ms / raw.p99_ms:.2f}, CPU per broadcast '
            f'{one.cpu_ms_per_broadcast / raw.cpu_ms_per_broadcast:.2f}',
        ]
    if one is not None:
        p99 = 'PASS' if one.p99_ms < TARGET_P99_MS else 'FAIL'
        rss = 'PASS' if one.rss_per_connection_kib < TARGET_RSS_KIB else 'FAIL'
        lines += [
            '',
            f'target: p99 fan-out to {one.clients} clients < {TARGET_P99_MS:g} ms '
            f'on one worker: {one.p99_ms:.1f} ms  {p99}',
            f'target: RSS per idle websocket < {TARGET_RSS_KIB:g} KiB: '
            f'{one.rss_per_connection_kib:.1f} KiB  {rss}',
        ]
    return '\n'.join(lines)


def rooms_on_every_shard(cluster: RedisCluster) -> list[str]:
    """One room per shard: the rooms whose channels the three masters own."""
    rooms: dict[int, str] = {}
    n = 0
    while len(rooms) < len(cluster.masters()):
        n += 1
        rooms.setdefault(cluster.master_of(f'aiotao:bench{n}').port, f'/room/bench{n}')
    return [rooms[port] for port in sorted(rooms)]


def run_cluster(log_dir: Path, args: argparse.Namespace) -> Figures:
    """Two gunicorn masters of two workers, a Redis Cluster of three shards."""
    cluster = RedisCluster(log_dir / 'cluster')
    try:
        cluster.start()
        settings = {'aiotao.broadcast': cluster.url}
        servers = [
            start_gunicorn(log_dir, 2, settings, name=f'cluster-{n}') for n in range(2)
        ]
        try:
            brokers = {
                f'shard :{node.port}': node.process.pid  # type: ignore[union-attr]
                for node in cluster.masters()
            }
            return asyncio.run(
                run_scenario(
                    'cluster',
                    servers,
                    args.clients,
                    args.broadcasts,
                    args.client_processes,
                    args.profile,
                    rooms=rooms_on_every_shard(cluster),
                    brokers=brokers,
                )
            )
        finally:
            for server in servers:
                server.stop()
    finally:
        cluster.stop()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--clients', type=int, default=1000)
    parser.add_argument('--broadcasts', type=int, default=50)
    parser.add_argument('--client-processes', type=int, default=2)
    parser.add_argument('--only', choices=('raw', 'one', 'redis', 'cluster'))
    parser.add_argument('--profile', type=Path, metavar='DIR')
    return parser.parse_args(argv)


def measure(name: str, server: ServerProcess, args: argparse.Namespace) -> Figures:
    """One scenario on ``server`` (stopped afterwards, whatever happens)."""
    try:
        return asyncio.run(
            run_scenario(
                name,
                [server],
                args.clients,
                args.broadcasts,
                args.client_processes,
                args.profile,
            )
        )
    finally:
        server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    raise_open_files_limit()
    results: list[Figures] = []
    with tempfile.TemporaryDirectory(prefix='aiotao-fanout-') as tmp:
        log_dir = Path(tmp)
        if args.only in (None, 'raw'):
            results.append(measure('raw', start_raw_aiohttp(log_dir), args))
        if args.only in (None, 'one'):
            results.append(measure('one', start_gunicorn(log_dir, 1, {}), args))
        if args.only in (None, 'redis'):
            with RedisServer(log_dir / 'redis') as redis:
                server = start_gunicorn(log_dir, 2, {'aiotao.broadcast': redis.url})
                results.append(measure('redis', server, args))
        if args.only in (None, 'cluster'):
            results.append(run_cluster(log_dir, args))
    print(report(results))
    if args.profile:
        for collapsed in sorted(args.profile.glob('*.txt')):
            print()
            print(busiest(collapsed))
    return 0


if __name__ == '__main__':
    sys.exit(main())
