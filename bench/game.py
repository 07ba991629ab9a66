"""Game rooms under load: tick time and bytes per player, on one aiotao worker.

    .venv/bin/python bench/game.py [--rooms 20] [--players 10] [--seconds 20]
                                   [--encoding json|msgpack] [--profile FILE]
                                   [--json-library json|orjson] [--no-deflate]

One gunicorn worker (aiotao's) serves the game at the default 20 Hz.  The
bench opens one real websocket client per room; each creates its room
with ``players - 1`` server-side bots and then plays like a person: a new
input (direction, aim, fire) 20 times a second.  So with the defaults the
worker runs 20 rooms of 10 players (1 websocket + 9 bots each), every
tick applying inputs, stepping the arena, diffing the snapshot and
broadcasting it.

After a warm-up the bench resets the rooms' metrics, measures for
``--seconds`` and reads them back from the worker (``/metrics``, a route
of the bench's own app below).  Reported:

* tick time: p50/p99/max over every tick of every room (the work of one
  tick: inputs, bots, step, snapshot, delta, broadcast);
* late ticks: the share that started more than 5 ms after their deadline
  (the loop was busy elsewhere), and ticks skipped entirely;
* bytes per player per second: what the worker sent to each connected
  player, and what each client received (the same stream, counted at the
  other end), and what went on the wire (what the client read off its
  socket: compressed when the clients offered permessage-deflate, as browsers
  do and these clients do unless ``--no-deflate``); bots receive nothing.  ``--encoding msgpack``: the clients
  ask for MessagePack state messages (the ``aiotao.game.msgpack``
  subprotocol) instead of JSON;
* the worker's CPU use over the run;
* a control: the share of late wake-ups of an idle process that only
  sleeps to 20 Hz deadlines during the same seconds.  On a shared machine
  the kernel's scheduling delays timers by itself; the worker cannot be
  more punctual than that.

Targets (issue 7): p99 tick < 5 ms, < 1 % late.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import websockets
from pyramid.config import Configurator
from websockets.asyncio.client import ClientConnection

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.server_process import ServerProcess, free_port  # noqa: E402

# -- the bench's app (served by the worker) ---------------------------------


_profiler: Any = None


async def profile_view(request: Any) -> dict[str, Any]:
    """``?start=1``: profile the worker's loop thread; ``?stop=FILE``: write the stats."""
    import cProfile

    global _profiler
    if request.params.get('start'):
        _profiler = cProfile.Profile()
        _profiler.enable()
    elif request.params.get('stop') and _profiler is not None:
        _profiler.disable()
        _profiler.dump_stats(request.params['stop'])
        _profiler = None
    return {}


async def metrics_view(request: Any) -> dict[str, Any]:
    """Every room's raw figures; ``?reset=1`` starts new metrics."""
    from aiotao.game import get_game
    from aiotao.game.metrics import TickMetrics

    lobby = get_game(request.registry).lobby
    if request.params.get('reset'):
        for room in lobby.rooms.values():
            room.metrics = TickMetrics(room.metrics.late_threshold, window=100_000)
    return {
        'rooms': [
            {
                'id': room.id,
                'players': len(room.seats),
                'connected': sum(1 for s in room.seats.values() if s.link is not None),
                'durations': list(room.metrics.durations),
                'ticks': room.metrics.ticks,
                'late': room.metrics.late_ticks,
                'skipped': room.metrics.skipped_ticks,
                'bytes_sent': room.metrics.bytes_sent,
            }
            for room in lobby.rooms.values()
        ]
    }


def main(global_config: dict[str, Any], **settings: Any) -> Any:
    """The bench app: the game websocket at /game/ws and /metrics."""
    from aiotao.game import serve_game
    from aiotao.mappers import WebsocketMapper

    # the demo's arena shooter (aiotao ships no rules): make install installs the demo
    settings.setdefault('aiotao.game.rules', 'aiotao_demo.arena.Arena')
    config = Configurator(settings=settings)
    config.include('aiotao')
    config.include('aiotao.websocket')
    config.include('aiotao.game')
    config.add_route('game', '/game/ws')
    config.add_view(serve_game, route_name='game', mapper=WebsocketMapper)
    config.add_route('metrics', '/metrics')
    config.add_view(metrics_view, route_name='metrics', renderer='json')
    config.add_route('profile', '/profile')
    config.add_view(profile_view, route_name='profile', renderer='json')
    return config.make_wsgi_app()


# -- the load ---------------------------------------------------------------


class CountingConnection(ClientConnection):
    """A client connection counting the bytes it reads off its socket."""

    counting = False
    wire_bytes = 0

    def data_received(self, data: bytes) -> None:
        if self.counting:
            self.wire_bytes += len(data)
        super().data_received(data)


class Client:
    """One room's websocket player: creates the room, then sends inputs at 20 Hz."""

    def __init__(
        self,
        url: str,
        bots: int,
        seed: int,
        encoding: str = 'json',
        deflate: bool = True,
    ) -> None:
        self.url = url
        self.subprotocols = [f'aiotao.game.{encoding}']
        #: permessage-deflate, offered as browsers do (the bytes counted are
        #: the messages', before compression on the wire)
        self.compression = 'deflate' if deflate else None
        self.bots = bots
        self.rng = random.Random(seed)
        self.bytes = 0
        self.messages = 0
        self.counting = False
        self.connection: CountingConnection | None = None
        self.joined = asyncio.Event()
        self.errors: list[str] = []

    async def run(self, stop: asyncio.Event) -> None:
        origin = 'http://' + self.url.split('/')[2]
        async with websockets.connect(
            self.url,
            origin=origin,  # type: ignore[arg-type]
            subprotocols=self.subprotocols,  # type: ignore[arg-type]
            compression=self.compression,
            create_connection=CountingConnection,
        ) as ws:
            self.connection = ws
            if ws.subprotocol not in self.subprotocols:
                self.errors.append(f'subprotocol {ws.subprotocol!r} agreed')
            await ws.send(
                json.dumps({'type': 'join', 'mode': 'create', 'bots': self.bots})
            )
            reader = asyncio.create_task(self._read(ws))
            seq = 0
            while not stop.is_set():
                angle = self.rng.uniform(-math.pi, math.pi)
                seq += 1
                await ws.send(
                    json.dumps(
                        {
                            'type': 'input',
                            'dx': math.cos(angle),
                            'dy': math.sin(angle),
                            'aim': angle,
                            'fire': self.rng.random() < 0.5,
                            'seq': seq,
                        }
                    )
                )
                try:
                    await asyncio.wait_for(stop.wait(), 0.05)
                except TimeoutError:
                    pass
            reader.cancel()

    @property
    def wire_bytes(self) -> int:
        return self.connection.wire_bytes if self.connection is not None else 0

    def count(self, on: bool) -> None:
        self.counting = on
        if self.connection is not None:
            self.connection.counting = on

    async def _read(self, ws: Any) -> None:
        async for raw in ws:
            if self.counting:
                self.bytes += len(raw)
                self.messages += 1
            if isinstance(raw, bytes):
                continue  # a state message in MessagePack
            if raw.startswith('{"type": "welcome"') or '"welcome"' in raw[:20]:
                self.joined.set()
            elif '"error"' in raw[:20]:
                self.errors.append(raw)


PROBE = """
import asyncio, sys, time
async def main(seconds):
    loop = asyncio.get_running_loop()
    deadline, late, ticks = loop.time(), 0, 0
    end = deadline + seconds
    while deadline < end:
        deadline += 0.05
        await asyncio.sleep(max(0.0, deadline - loop.time()))
        ticks += 1
        late += loop.time() - deadline > 0.005
    print(late / ticks)
asyncio.run(main(float(sys.argv[1])))
"""


async def timer_probe(seconds: float) -> float:
    """Late share of an idle process's 20 Hz timer (the machine's own lateness)."""
    probe = await asyncio.create_subprocess_exec(
        sys.executable, '-c', PROBE, str(seconds), stdout=asyncio.subprocess.PIPE
    )
    output, _ = await probe.communicate()
    return float(output)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


async def load(server: ServerProcess, args: argparse.Namespace) -> dict[str, Any]:
    url = server.url('/game/ws', scheme='ws')
    stop = asyncio.Event()
    clients = [
        Client(url, args.players - 1, seed, args.encoding, not args.no_deflate)
        for seed in range(args.rooms)
    ]
    tasks = [asyncio.create_task(client.run(stop)) for client in clients]
    await asyncio.wait_for(
        asyncio.gather(*(client.joined.wait() for client in clients)), 30
    )
    await asyncio.sleep(args.warmup)
    server.get('/metrics?reset=1')
    for client in clients:
        client.count(True)
    if args.profile:
        server.get('/profile?start=1')
    cpu_before, started = server.cpu_seconds(), time.monotonic()
    probe_late_share = await timer_probe(args.seconds)
    _, body = server.get('/metrics')
    if args.profile:
        server.get(f'/profile?stop={os.path.abspath(args.profile)}')
    elapsed = time.monotonic() - started
    cpu = server.cpu_seconds() - cpu_before
    for client in clients:
        client.count(False)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    rooms = json.loads(body)['rooms']
    durations = [d for room in rooms for d in room['durations']]
    ticks = sum(room['ticks'] for room in rooms)
    connected = sum(room['connected'] for room in rooms)
    return {
        'rooms': len(rooms),
        'encoding': args.encoding,
        'json_library': args.json_library,
        'deflate': not args.no_deflate,
        'players': sum(room['players'] for room in rooms),
        'tick_rate': 20,
        'seconds': round(elapsed, 2),
        'ticks': ticks,
        'ticks_expected': round(len(rooms) * 20 * elapsed),
        'tick_ms_p50': round(percentile(durations, 50) * 1000, 3),
        'tick_ms_p99': round(percentile(durations, 99) * 1000, 3),
        'tick_ms_max': round(max(durations, default=0) * 1000, 3),
        'late_share': round(sum(r['late'] for r in rooms) / max(1, ticks), 5),
        'skipped_ticks': sum(r['skipped'] for r in rooms),
        'bytes_per_player_per_second_sent': round(
            sum(r['bytes_sent'] for r in rooms) / max(1, connected) / elapsed
        ),
        'bytes_per_player_per_second_received': round(
            sum(c.bytes for c in clients) / len(clients) / elapsed
        ),
        'wire_bytes_per_player_per_second': round(
            sum(c.wire_bytes for c in clients) / len(clients) / elapsed
        ),
        'messages_per_player_per_second': round(
            sum(c.messages for c in clients) / len(clients) / elapsed, 1
        ),
        'worker_cpu_share': round(cpu / elapsed, 3),
        # what a tick costs the worker, all told (inputs, network, checkpoints):
        # less at the mercy of the machine's load than the lateness
        'worker_cpu_ms_per_tick': round(cpu / max(1, ticks) * 1000, 3),
        'client_errors': sum(len(c.errors) for c in clients),
        # a shared machine: other processes' load delays the worker's timers
        'load_average_1min': round(os.getloadavg()[0], 2),
        'idle_timer_late_share': round(probe_late_share, 5),
        'cores': os.cpu_count(),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix='aiotao-game-bench-'))
    ini = workdir / 'game.ini'
    ini.write_text(
        f'[app:main]\nuse = call:bench.game:main\naiotao.json = {args.json_library}\n'
    )
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), PYTHONUNBUFFERED='1')
    server = ServerProcess(
        'aiotao game',
        [
            str(Path(sys.executable).parent / 'gunicorn'),
            '--paste', str(ini),
            '--worker-class', 'aiotao.serving.gunicorn.Worker',
            '--workers=1',
            f'--bind=127.0.0.1:{port}',
            '--no-control-socket',
            '--log-level=warning',
        ],
        port,
        workdir / 'gunicorn.log',
        cwd=REPO_ROOT,
        env=env,
        forks_worker=True,
    )  # fmt: skip
    try:
        server.wait_until_serving('/metrics')
        return asyncio.run(load(server, args))
    finally:
        server.stop()


def report(figures: dict[str, Any]) -> str:
    lines = [
        f'{figures["rooms"]} rooms, {figures["players"]} players '
        f'({figures["rooms"]} websocket clients + bots), 20 Hz, one aiotao worker, '
        f'{figures["seconds"]} s measured, {figures["encoding"]} state messages'
        f'{" (orjson)" if figures["json_library"] == "orjson" else ""}'
        f'{"" if figures["deflate"] else ", no permessage-deflate"}',
        f'ticks: {figures["ticks"]} of {figures["ticks_expected"]} scheduled, '
        f'{figures["skipped_ticks"]} skipped',
        f'tick time: p50 {figures["tick_ms_p50"]} ms, p99 {figures["tick_ms_p99"]} ms, '
        f'max {figures["tick_ms_max"]} ms  (target p99 < 5 ms)',
        f'late ticks (> 5 ms): {figures["late_share"] * 100:.2f} %  (target < 1 %); '
        f"an idle process's 20 Hz timer on this machine meanwhile: "
        f'{figures["idle_timer_late_share"] * 100:.2f} % late',
        f'bytes per player per second: {figures["bytes_per_player_per_second_sent"]} '
        f'sent by the worker, {figures["bytes_per_player_per_second_received"]} '
        f'received by a client ({figures["messages_per_player_per_second"]} msg/s); '
        f'on the wire {figures["wire_bytes_per_player_per_second"]}'
        f'{" (permessage-deflate)" if figures["deflate"] else ""}',
        f'worker CPU: {figures["worker_cpu_share"] * 100:.0f} % of a core, '
        f'{figures["worker_cpu_ms_per_tick"]} ms per tick; '
        f'client errors: {figures["client_errors"]}',
        f'machine: {figures["cores"]} cores, load average '
        f'{figures["load_average_1min"]} at the end (this bench and everything else)',
    ]
    return '\n'.join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--rooms', type=int, default=20)
    parser.add_argument(
        '--players', type=int, default=10, help='per room, bots included'
    )
    parser.add_argument('--seconds', type=float, default=20.0)
    parser.add_argument('--warmup', type=float, default=3.0)
    parser.add_argument(
        '--encoding',
        choices=['json', 'msgpack'],
        default='json',
        help="the state messages' encoding the clients ask for",
    )
    parser.add_argument(
        '--json-library',
        choices=['json', 'orjson'],
        default='json',
        help='what writes the JSON state messages (the aiotao.json setting)',
    )
    parser.add_argument(
        '--no-deflate',
        action='store_true',
        help='the clients do not offer permessage-deflate (browsers do)',
    )
    parser.add_argument(
        '--profile', metavar='FILE', help="write a cProfile of the worker's loop"
    )
    parser.add_argument('--json', action='store_true', help='print the figures as JSON')
    return parser.parse_args(argv)


if __name__ == '__main__':
    arguments = parse_args()
    results = run(arguments)
    print(json.dumps(results, indent=2) if arguments.json else report(results))
