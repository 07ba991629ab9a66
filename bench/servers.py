"""aiotao's gunicorn worker side by side with its peers, one worker each.

    .venv/bin/python bench/servers.py [--duration 5] [--rounds 2]
                                      [--only hello] [--quick] [--check]
                                      [--baseline DIR]

Starts five servers on 127.0.0.1, one worker process each:

* ``aiotao``: the demo's endpoints (``bench/aiotao.ini``, app in
  ``bench/peers/aiotao_app.py``) on ``aiotao.serving.gunicorn.Worker``;
* ``aiohttp``: raw aiohttp.web (``bench/peers/aiohttp_app.py``) on
  ``aiohttp.GunicornWebWorker``;
* ``pyramid``: stock sync Pyramid (``bench/peers/pyramid_sync.py``) on
  gunicorn ``gthread`` with 32 threads (no websocket);
* ``starlette``: Starlette (``bench/peers/starlette_app.py``) on uvicorn;
* ``floor``: stock Pyramid's router called inline from aiohttp.web
  (``bench/peers/pyramid_inline.py``), the least any Pyramid pipeline on
  aiohttp costs, so that aiotao is seen against what Pyramid itself
  allows; its views are sync Pyramid's, so it serves neither ``/sleep``
  (the view blocks) nor the websocket.

All serve the same endpoints and render the same Jinja2 template.  The
asyncio loop is used everywhere (uvicorn's httptools parser if installed).
Each endpoint is loaded with ``wrk`` (2 threads; 64 connections, 1000 for
``/sleep``) or, for the websocket echo, 64 aiohttp websocket clients doing
round trips.  The servers take turns, ``--rounds`` times in a rotating
order, and the best rate of each is kept: the machine is shared, so only the
ratios of one run mean something.  Errors are summed over all rounds.

The table ends with the issue's targets, PASS or FAIL.  ``--check`` makes a
FAIL the exit status (1).  ``--baseline DIR`` also serves the ``aiotao``
package of another checkout (``git archive HEAD aiotao | tar -x -C DIR``)
as ``baseline``, so a change is measured before and after in one run.  For
per-request costs that do not move with the machine's load, see
``bench/instructions.py``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path

from load import (
    LoadError,
    Measurement,
    raise_open_files_limit,
    run_echo,
    run_wrk,
    wrk_path,
    wrk_version,
)
from report import Results, Row, against_floor, table, verdict_table, verdicts
from server_process import ServerProcess, free_port

BENCH = Path(__file__).resolve().parent
REPO_ROOT = BENCH.parent
PEERS = BENCH / 'peers'
BIN = Path(sys.executable).parent


# -- what is measured -------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    #: wrk connections, or websocket clients.
    connections: int
    #: Bytes the body must contain, checked once before the load.
    expect: bytes = b''
    websocket: bool = False

    @property
    def unit(self) -> str:
        return 'msg/s' if self.websocket else 'req/s'


ENDPOINTS = [
    Endpoint('hello', '/hello', 64, b'Hello, world!'),
    Endpoint('json', '/json', 64, b'"Hello, world!"'),
    Endpoint('page', '/page', 64, b'<td>item 19</td>'),
    Endpoint('sleep', '/sleep?seconds=0.1', 1000, b'0.1}'),
    Endpoint('echo', '/echo', 64, websocket=True),
]


@dataclass(frozen=True)
class Server:
    key: str
    label: str
    argv: Callable[[int], list[str]]
    websocket: bool = True
    #: A gunicorn master forks the worker; uvicorn serves in its own process.
    forks_worker: bool = True
    #: Put first on ``PYTHONPATH``: another checkout's ``aiotao`` (--baseline).
    pythonpath: str = ''
    #: The endpoints it serves, if not all (websockets aside).
    only: frozenset[str] | None = None

    def serves(self, endpoint: Endpoint) -> bool:
        if endpoint.websocket and not self.websocket:
            return False
        return self.only is None or endpoint.name in self.only


def program(name: str, package: str) -> str:
    path = BIN / name
    if not path.exists():
        raise SystemExit(
            f'{name} is not installed next to {sys.executable}: run this with '
            f'the project virtualenv (.venv/bin/python) or pip install {package}'
        )
    return str(path)


def gunicorn(*args: str) -> Callable[[int], list[str]]:
    def argv(port: int) -> list[str]:
        return [
            program('gunicorn', 'gunicorn'),
            *args,
            '--workers=1',
            f'--bind=127.0.0.1:{port}',
            '--no-control-socket',
            '--log-level=warning',
        ]

    return argv


def uvicorn_starlette(port: int) -> list[str]:
    return [
        program('uvicorn', 'uvicorn'),
        'starlette_app:app',
        f'--app-dir={PEERS}',
        '--host=127.0.0.1',
        f'--port={port}',
        '--loop=asyncio',
        f'--http={uvicorn_http()}',
        '--ws=websockets-sansio',
        '--no-access-log',
        '--log-level=warning',
    ]


def uvicorn_http() -> str:
    try:
        import httptools  # noqa: F401
    except ImportError:
        return 'h11'
    return 'httptools'


SERVERS = [
    Server(
        'aiotao',
        'aiotao worker (gunicorn)',
        gunicorn(
            '--worker-class=aiotao.serving.gunicorn.Worker',
            f'--paste={BENCH / "aiotao.ini"}',
        ),
    ),
    Server(
        'aiohttp',
        'raw aiohttp.web (gunicorn)',
        gunicorn('--worker-class=aiohttp.GunicornWebWorker', 'aiohttp_app:app'),
    ),
    Server(
        'pyramid',
        'sync Pyramid (gthread 32)',
        gunicorn('--worker-class=gthread', '--threads=32', 'pyramid_sync:app'),
        websocket=False,
    ),
    Server(
        'starlette',
        'Starlette (uvicorn)',
        uvicorn_starlette,
        forks_worker=False,
    ),
    Server(
        'floor',
        'Pyramid inline (the floor)',
        gunicorn('--worker-class=aiohttp.GunicornWebWorker', 'pyramid_inline:make_app'),
        websocket=False,
        only=frozenset({'hello', 'json', 'page'}),
    ),
]


# -- running ---------------------------------------------------------------


def start_servers(servers: Sequence[Server], log_dir: Path) -> list[ServerProcess]:
    base_env = dict(os.environ)
    base_env['PYTHONUNBUFFERED'] = '1'
    base_env.pop('WEB_CONCURRENCY', None)
    base_env.pop('GUNICORN_CMD_ARGS', None)
    started: list[ServerProcess] = []
    try:
        for server in servers:
            env = dict(base_env)
            env['PYTHONPATH'] = os.pathsep.join(
                filter(
                    None,
                    [
                        server.pythonpath,
                        str(PEERS),
                        str(REPO_ROOT),
                        base_env.get('PYTHONPATH'),
                    ],
                )
            )
            port = free_port()
            started.append(
                ServerProcess(
                    server.key,
                    server.argv(port),
                    port,
                    log_dir / f'{server.key}.log',
                    # no ./gunicorn.conf.py is read from here
                    cwd=log_dir,
                    env=env,
                    forks_worker=server.forks_worker,
                )
            )
        for process in started:
            process.wait_until_serving('/hello')
    except BaseException:
        stop_servers(started)
        raise
    return started


def stop_servers(processes: Sequence[ServerProcess]) -> None:
    for process in processes:
        process.stop()


def check_responses(
    processes: Sequence[ServerProcess],
    servers: Sequence[Server],
    endpoints: Sequence[Endpoint],
) -> None:
    """Every server answers every endpoint as expected, before any load."""
    for process, server in zip(processes, servers, strict=True):
        for endpoint in endpoints:
            if not server.serves(endpoint):
                continue
            if endpoint.websocket:
                result = run_echo(
                    process.url(endpoint.path, 'ws'), clients=1, seconds=1
                )
                if result.errors or not result.count:
                    raise SystemExit(
                        f'{server.key}: the websocket echo at {endpoint.path} '
                        f'does not work: {result}'
                    )
                continue
            status, body = process.get(endpoint.path)
            if status != 200 or endpoint.expect not in body:
                raise SystemExit(
                    f'{server.key}: GET {endpoint.path} answered {status} '
                    f'without {endpoint.expect!r}:\n{body[:500]!r}'
                )


def measure(process: ServerProcess, endpoint: Endpoint, seconds: int) -> Measurement:
    before = process.cpu_seconds()
    if endpoint.websocket:
        result = run_echo(
            process.url(endpoint.path, 'ws'),
            clients=endpoint.connections,
            seconds=seconds,
        )
    else:
        result = run_wrk(
            process.url(endpoint.path),
            connections=endpoint.connections,
            seconds=seconds,
        )
    result = replace(result, server_cpu=process.cpu_seconds() - before)
    # queued requests (sync Pyramid's /sleep backlog) must not overlap the next run
    process.wait_until_idle()
    return result


def run_all(
    processes: Sequence[ServerProcess],
    servers: Sequence[Server],
    endpoints: Sequence[Endpoint],
    *,
    seconds: int,
    rounds: int,
    warmup: int,
) -> Results:
    results = Results()
    pairs = list(zip(servers, processes, strict=True))
    for endpoint in endpoints:
        for round_number in range(rounds):
            # a rotating order, so that no server always goes first
            shift = round_number % len(pairs)
            for server, process in pairs[shift:] + pairs[:shift]:
                if not server.serves(endpoint):
                    continue
                if warmup:
                    measure(process, endpoint, warmup)
                result = measure(process, endpoint, seconds)
                results.add(endpoint.name, server.key, result)
                print(
                    f'  {endpoint.name:<6} round {round_number + 1}  '
                    f'{server.key:<10}{result.rate:>10.0f} {endpoint.unit}'
                    f'{result.errors:>7} errors  srv cpu {result.server_load:4.0%}'
                    f'  gen cpu {result.client_load:4.0%}',
                    file=sys.stderr,
                    flush=True,
                )
    return results


def versions() -> str:
    """The software measured, for the record."""
    found = []
    for name in ('aiohttp', 'gunicorn', 'pyramid', 'starlette', 'uvicorn'):
        try:
            found.append(f'{name} {metadata.version(name)}')
        except metadata.PackageNotFoundError:
            found.append(f'{name} (not installed)')
    found.append(wrk_version())
    return (
        f'Python {platform.python_version()}, {os.cpu_count()} cores; '
        f'{", ".join(found)}; uvicorn --http {uvicorn_http()}; asyncio loop'
    )


def machine() -> str:
    """The CPU model and the load when the run ended, for the record."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                model = line.partition(':')[2].strip()
                break
    except OSError:
        pass
    load = ', '.join(f'{n:.2f}' for n in os.getloadavg())
    return f'{model}, {os.cpu_count()} cores, {platform.system()}; load average {load}'


def write_table(path: Path, report: str, argv: Sequence[str] | None) -> None:
    """The report with when, where and how, for the documentation."""
    command = ' '.join(['bench/servers.py', *(sys.argv[1:] if argv is None else argv)])
    when = time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'{when}; {machine()}\n$ {command}\n\n{report}\n')


# -- command line ----------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(__doc__ or '').splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    names = [endpoint.name for endpoint in ENDPOINTS]
    parser.add_argument(
        '--duration', type=int, default=5, help='seconds per measured run (5)'
    )
    parser.add_argument(
        '--rounds', type=int, default=2, help='turns each server takes (2)'
    )
    parser.add_argument(
        '--warmup', type=int, default=1, help='seconds of load before each run (1)'
    )
    parser.add_argument(
        '--only',
        action='append',
        choices=names,
        metavar='ENDPOINT',
        help=f'measure this endpoint only (repeatable): {", ".join(names)}',
    )
    parser.add_argument(
        '--server',
        action='append',
        choices=[server.key for server in SERVERS],
        help='start this server only (repeatable); ratios need aiohttp/pyramid',
    )
    parser.add_argument(
        '--baseline',
        metavar='DIR',
        help=(
            'also serve the aiotao package found in DIR (e.g. a "git archive '
            'HEAD aiotao" of the commit before a change) as "baseline", for '
            'a before/after comparison in one run'
        ),
    )
    parser.add_argument(
        '--table',
        metavar='FILE',
        help=(
            'also write the results, the machine, the date and the command to '
            "FILE (make bench: the Performance page's docs/bench/servers.txt)"
        ),
    )
    parser.add_argument(
        '--quick',
        action='store_true',
        help='a smoke run: 1 second per run, one round, no warm-up',
    )
    parser.add_argument(
        '--check', action='store_true', help='exit with 1 if a target is missed'
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.rounds, args.warmup = 1, 1, 0
    if args.duration < 1 or args.rounds < 1 or args.warmup < 0:
        parser.error('--duration and --rounds must be at least 1, --warmup 0 or more')
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        wrk_path()
    except LoadError as exc:
        raise SystemExit(f'bench/servers.py: {exc}') from None
    open_files = raise_open_files_limit()
    endpoints = [e for e in ENDPOINTS if not args.only or e.name in args.only]
    servers = [s for s in SERVERS if not args.server or s.key in args.server]
    if args.baseline:
        baseline = Path(args.baseline).resolve()
        if not (baseline / 'aiotao' / '__init__.py').exists():
            raise SystemExit(f'--baseline {baseline}: no aiotao package there')
        servers.insert(
            1,
            replace(
                SERVERS[0],
                key='baseline',
                label='aiotao baseline (gunicorn)',
                pythonpath=str(baseline),
            ),
        )
    runs = sum(1 for e in endpoints for s in servers if s.serves(e))
    estimate = runs * args.rounds * (args.duration + args.warmup + 0.5) + 10
    print(
        f'{runs * args.rounds} runs of {args.duration}s '
        f'(+{args.warmup}s warm-up), about {estimate / 60:.1f} min; '
        f'open files {open_files}',
        file=sys.stderr,
        flush=True,
    )
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix='aiotao-bench-') as tmp:
            processes = start_servers(servers, Path(tmp))
            try:
                check_responses(processes, servers, endpoints)
                results = run_all(
                    processes,
                    servers,
                    endpoints,
                    seconds=args.duration,
                    rounds=args.rounds,
                    warmup=args.warmup,
                )
            finally:
                stop_servers(processes)
    except (LoadError, RuntimeError) as exc:
        raise SystemExit(f'bench/servers.py: {exc}') from None
    rows = [Row(s.key, s.label, s.websocket, s.only) for s in servers]
    floor = against_floor(results, [e.name for e in endpoints])
    found = verdicts(results, {s.key: s.label for s in SERVERS})
    report = '\n\n'.join(
        [
            versions(),
            f'One worker each on 127.0.0.1; wrk -t2, 64 connections (sleep: 1000), '
            f'{args.duration}s runs, best of {args.rounds}; echo: 64 websocket '
            f'clients, 64-byte text round trips.\n'
            f'errors: non-2xx + socket errors (wrk), failed clients (echo), all '
            f'rounds.\n'
            f"srv cpu: the worker's CPU use (100% = one core); µs cpu: its CPU "
            f'time per request or message;\n'
            f"gen cpu: wrk's or the echo client's CPU use.  On a shared machine "
            f'the ratios of µs cpu are the steadier figures.',
            table(results, rows, {e.name: e.unit for e in endpoints}),
            *([floor] if floor else []),
            *([verdict_table(found)] if found else []),
        ]
    )
    print()
    print(report)
    print(f'\n({time.monotonic() - started:.0f}s)')
    if args.table:
        write_table(Path(args.table), report, argv)
    if args.check and not all(verdict.passed for verdict in found):
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
