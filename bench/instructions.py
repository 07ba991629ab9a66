"""Per-request cost in CPU instructions, counted by valgrind: noise-free.

    .venv/bin/python bench/instructions.py [--path /hello] [--baseline DIR]

On a shared machine, requests per second and even CPU time per request move
by 30% from one run to the next.  Instructions do not: each server here
answers the same sequence of keep-alive requests, in-process, under
``valgrind --tool=cachegrind``, once with ``--requests`` and once with five
times as many; the difference divided by the extra requests is its cost per
request, start-up excluded.  The servers (no gunicorn: the worker's
per-request path is :class:`~aiotao.serving.gunicorn.handler.AiohttpHandler` on
aiohttp's low-level server, as here):

* ``client``: a server that writes a canned response, i.e. what the
  measuring client itself costs; it is subtracted from the others;
* ``lowlevel``: aiohttp's low-level server with a trivial handler;
* ``aiohttp``: raw aiohttp.web (``bench/peers/aiohttp_app.py``);
* ``pyramid-inline``: stock Pyramid's sync router (the app of
  ``bench/peers/pyramid_sync.py``) called inline from a low-level aiohttp
  handler with a minimal environ (``bench/peers/pyramid_inline.py``), the
  least any Pyramid on aiohttp can cost (a floor, not a server anyone
  should run);
* ``aiotao``: the app of ``bench/aiotao.ini`` on ``AiohttpHandler``;
* ``baseline`` (``--baseline DIR``): the same with the ``aiotao`` package
  of another checkout.

The last lines put the hello targets in instructions: aiotao >= 0.5x raw
aiohttp (what aiotao may cost), and aiotao <= stock Pyramid inline.
Needs ``valgrind`` (``apt-get install valgrind``); about 30 s per server.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import platform
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from valgrind import BENCH, cost_per_unit, count_instructions, measure, report

SERVERS = ['client', 'lowlevel', 'aiohttp', 'pyramid-inline', 'aiotao']

_CANNED = b'HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, world!'


# -- the servers, run in the measured process ---------------------------------


async def make_server(kind: str) -> Any:
    """A protocol factory for ``loop.create_server`` serving ``kind``."""
    from aiohttp import web

    if kind == 'client':

        class Canned(asyncio.Protocol):
            def connection_made(self, transport: Any) -> None:
                self.transport = transport

            def data_received(self, data: bytes) -> None:
                self.transport.write(_CANNED)

        return Canned
    if kind == 'lowlevel':

        async def trivial(request: web.BaseRequest) -> web.Response:
            return web.Response(text='Hello, world!')

        return web.Server(trivial, access_log=None)
    if kind == 'aiohttp':
        from aiohttp_app import app as aiohttp_app

        runner = web.AppRunner(aiohttp_app, access_log=None)
        await runner.setup()
        return runner.server
    if kind == 'pyramid-inline':
        return web.Server(pyramid_inline_handler(), access_log=None)
    # aiotao and baseline: the worker's handler, as the worker sets it up
    from paste.deploy import loadapp

    from aiotao.serving.application import served_application
    from aiotao.serving.gunicorn.handler import AiohttpHandler
    from aiotao.serving.settings import ServingSettings

    app = served_application(loadapp(f'config:{BENCH / "aiotao.ini"}'))
    handler = AiohttpHandler(app, ServingSettings())
    return web.Server(
        handler, handler_cancellation=True, access_log=None, auto_decompress=False
    )


def pyramid_inline_handler() -> Any:
    """Stock Pyramid's router inline (``peers/pyramid_inline.py``), sync Pyramid's app."""
    from pyramid_inline import inline_handler
    from pyramid_sync import app as router

    return inline_handler(router)


async def serve_requests(kind: str, path: str, requests: int) -> None:
    """Answer ``requests`` sequential keep-alive GETs of ``path``."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(await make_server(kind), '127.0.0.1', 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection('127.0.0.1', port)
    request = f'GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n'.encode()
    for _ in range(requests):
        writer.write(request)
        head = await reader.readuntil(b'\r\n\r\n')
        status = head.split(b' ', 2)[1]
        if status != b'200':
            raise SystemExit(f'{kind}: GET {path} answered {status.decode()}')
        length = re.search(rb'(?i)content-length: *(\d+)', head)
        assert length is not None, head
        await reader.readexactly(int(length[1]))
    writer.close()
    server.close()


# -- counting, in the parent ----------------------------------------------------


def per_request(kind: str, path: str, requests: int, pythonpath: str = '') -> float:
    """Instructions per request of server ``kind`` (the client's share included)."""
    return cost_per_unit(
        lambda n: count_instructions(
            Path(__file__),
            ['--serve', kind, '--path', path, '--requests', str(n)],
            pythonpath,
        ),
        requests,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=(__doc__ or '').splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument('--path', default='/hello', help='the endpoint (/hello)')
    parser.add_argument(
        '--requests', type=int, default=100, help='requests of the short run (100)'
    )
    parser.add_argument('--baseline', metavar='DIR', help='another aiotao checkout')
    parser.add_argument(
        '--server', action='append', choices=SERVERS, help='measure only these'
    )
    parser.add_argument(
        '--table',
        metavar='FILE',
        help='also write the results to FILE (make bench: docs/bench/instructions.txt)',
    )
    parser.add_argument('--serve', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve_requests(args.serve, args.path, args.requests))
        return
    if shutil.which('valgrind') is None:
        raise SystemExit(
            'bench/instructions.py needs valgrind: apt-get install valgrind'
        )
    kinds = [k for k in SERVERS if not args.server or k in args.server]
    if 'client' not in kinds:
        kinds.insert(0, 'client')
    if args.path != '/hello':
        # the low-level server's trivial handler answers "Hello" to any path
        kinds = [k for k in kinds if k != 'lowlevel']
    runs = [(kind, kind, '') for kind in kinds]
    if args.baseline:
        runs.append(('baseline', 'aiotao', str(Path(args.baseline).resolve())))
    with Tee() as output:
        costs = measure(
            runs,
            lambda kind, path: per_request(kind, args.path, args.requests, path),
            'request',
        )
        server = report(costs, f'GET {args.path}', 'request', 0.5)
        if 'pyramid-inline' in server and 'aiotao' in server:
            floor = server['pyramid-inline']
            print(
                f'Stock Pyramid inline on aiohttp (the floor) costs {floor:,.0f}: '
                f'aiotao {server["aiotao"] / floor:.2f}x that '
                f'({"met" if server["aiotao"] <= floor else "NOT met"}: <= 1.00x).'
            )
    if args.table:
        path = Path(args.table)
        path.parent.mkdir(parents=True, exist_ok=True)
        when = time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())
        command = ' '.join(['bench/instructions.py', *sys.argv[1:]])
        path.write_text(
            f'{when}; Python {platform.python_version()}\n$ {command}\n{output.getvalue()}'
        )


class Tee(io.StringIO):
    """Keeps what is printed while it is also printed."""

    def __enter__(self) -> Tee:
        self._stdout = sys.stdout
        sys.stdout = self
        return self

    def __exit__(self, *exc: object) -> None:
        sys.stdout = self._stdout

    def write(self, text: str) -> int:
        self._stdout.write(text)
        return super().write(text)

    def flush(self) -> None:
        self._stdout.flush()


if __name__ == '__main__':
    main()
