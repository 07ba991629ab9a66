"""Per-message cost of the websocket echo in CPU instructions (valgrind).

    .venv/bin/python bench/echo_instructions.py [--messages 1000] [--clients 1]
                                                [--baseline DIR]

The companion of ``bench/instructions.py`` (HTTP requests) for the echo of
``bench/servers.py --only echo``: each server runs in-process under
``valgrind --tool=cachegrind`` and echoes ``--messages`` 64-byte text
messages sent by ``--clients`` raw-socket clients doing round trips, once
as given and once five times as many; the difference divided by the extra
messages is its cost per message, start-up and handshakes excluded.  The
clients speak the protocol by hand (a masked frame out, an unmasked one
back, no extensions) so that they cost little and the same everywhere.

* ``client``: a canned echo (frames bounced back as bytes), i.e. what the
  clients themselves cost; it is subtracted from the others;
* ``aiohttp``: raw aiohttp.web (``bench/peers/aiohttp_app.py``);
* ``aiotao``: the app of ``bench/aiotao.ini`` on the worker's handler;
* ``baseline`` (``--baseline DIR``): the same with the ``aiotao`` package
  of another checkout.

One client pays a whole event-loop iteration per message: extra loop turns
(a callback scheduled per message, a writer task) show up in full.  Many
clients share the iterations, as under ``bench/servers.py``'s 64 clients.
Needs ``valgrind``; about a minute per server.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import shutil
from pathlib import Path
from typing import Any

from valgrind import BENCH, cost_per_unit, count_instructions, measure, report

SERVERS = ['client', 'aiohttp', 'aiotao']
SIZE = 64

_PAYLOAD = b'x' * SIZE
# FIN + text, masked with the key 0 (so the payload goes as it is), 64 bytes
_FRAME = bytes([0x81, 0x80 | SIZE]) + bytes(4) + _PAYLOAD
# what a server sends back: FIN + text, unmasked, no extension bits
_ECHO = bytes([0x81, SIZE]) + _PAYLOAD
# a close frame with code 1000, masked with the key 0
_CLOSE = bytes([0x88, 0x82]) + bytes(4) + (1000).to_bytes(2, 'big')
_SWITCHING = b'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n'


# -- the servers, run in the measured process ---------------------------------


class CannedEcho(asyncio.Protocol):
    """Accepts any upgrade, bounces every message back unmasked."""

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.upgraded = False
        self.buffer = b''

    def data_received(self, data: bytes) -> None:
        if not self.upgraded:
            self.upgraded = True
            self.transport.write(_SWITCHING + b'Connection: Upgrade\r\n\r\n')
            return
        self.buffer += data
        while self.buffer:
            if self.buffer.startswith(_CLOSE):
                self.transport.write(bytes([0x88, 2]) + _CLOSE[-2:])
                self.transport.close()
                return
            if len(self.buffer) < len(_FRAME):
                return
            self.buffer = self.buffer[len(_FRAME) :]
            self.transport.write(_ECHO)

    def eof_received(self) -> None:
        self.transport.close()


async def make_server(kind: str) -> Any:
    """A protocol factory for ``loop.create_server`` serving ``kind``'s /echo."""
    if kind == 'client':
        return CannedEcho
    from aiohttp import web

    if kind == 'aiohttp':
        from aiohttp_app import app

        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        return runner.server
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


async def echo_client(port: int, messages: int) -> None:
    """Open /echo, do ``messages`` round trips, close."""
    reader, writer = await asyncio.open_connection('127.0.0.1', port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f'GET /echo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n'
        f'Origin: http://127.0.0.1:{port}\r\n'
        f'Upgrade: websocket\r\nConnection: Upgrade\r\n'
        f'Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n'.encode()
    )
    head = await reader.readuntil(b'\r\n\r\n')
    if not head.startswith(b'HTTP/1.1 101'):
        raise SystemExit(f'the upgrade was refused:\n{head.decode(errors="replace")}')
    if b'sec-websocket-extensions' in head.lower():
        raise SystemExit(f'an extension was agreed, none was offered:\n{head!r}')
    for _ in range(messages):
        writer.write(_FRAME)
        reply = await reader.readexactly(len(_ECHO))
        if reply != _ECHO:
            raise SystemExit(f'unexpected echo: {reply!r}')
    writer.write(_CLOSE)
    await reader.read()  # the close frame, then the end of the stream
    writer.close()


async def serve_messages(kind: str, messages: int, clients: int) -> None:
    loop = asyncio.get_running_loop()
    # A gunicorn worker always has a timer pending (its heartbeat), and a
    # loop with a timer reads the clock on every turn: so do these servers,
    # or the first timer a server sets would look like a cost per message.
    timer = loop.call_later(3600, lambda: None)
    server = await loop.create_server(await make_server(kind), '127.0.0.1', 0)
    port = server.sockets[0].getsockname()[1]
    await asyncio.gather(
        *(echo_client(port, messages // clients) for _ in range(clients))
    )
    server.close()
    timer.cancel()


# -- counting, in the parent ----------------------------------------------------


def per_message(kind: str, messages: int, clients: int, pythonpath: str = '') -> float:
    """Instructions per message of server ``kind`` (the clients' share included)."""
    return cost_per_unit(
        lambda n: count_instructions(
            Path(__file__),
            ['--serve', kind, '--messages', str(n), '--clients', str(clients)],
            pythonpath,
        ),
        messages,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=(__doc__ or '').splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        '--messages', type=int, default=1000, help='messages of the short run (1000)'
    )
    parser.add_argument(
        '--clients', type=int, default=1, help='connections sharing them (1)'
    )
    parser.add_argument('--baseline', metavar='DIR', help='another aiotao checkout')
    parser.add_argument(
        '--server', action='append', choices=SERVERS, help='measure only these'
    )
    parser.add_argument('--serve', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.clients < 1 or args.messages < args.clients:
        parser.error('--clients must be at least 1 and at most --messages')
    if args.serve:
        asyncio.run(serve_messages(args.serve, args.messages, args.clients))
        return
    if shutil.which('valgrind') is None:
        raise SystemExit(
            'bench/echo_instructions.py needs valgrind: apt-get install valgrind'
        )
    kinds = [k for k in SERVERS if not args.server or k in args.server]
    if 'client' not in kinds:
        kinds.insert(0, 'client')
    runs = [(kind, kind, '') for kind in kinds]
    if args.baseline:
        runs.append(('baseline', 'aiotao', str(Path(args.baseline).resolve())))
    costs = measure(
        runs,
        lambda kind, path: per_message(kind, args.messages, args.clients, path),
        'message',
    )
    report(costs, f'/echo, {args.clients} client(s)', 'message', 0.85)


if __name__ == '__main__':
    main()
