"""``aiotao``: aiotao's command line.

::

    aiotao serve-ws development.ini                 # [server:main]'s host and port
    aiotao serve-ws development.ini#main --host 0.0.0.0 --port 8765

``serve-ws`` serves the application's websocket views alone, on the
``websockets`` library's server, with no HTTP server (see
:mod:`aiotao.serving.standalone`).  The ini's logging configuration is
used; the address defaults to the ini's ``[server:main]`` ``host`` and
``port`` (else 127.0.0.1:6543).  SIGTERM and SIGINT stop it gracefully.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import TextIO

from aiotao.serving.gunicorn.conf import server_section

DEFAULT_HOST = '127.0.0.1'
DEFAULT_PORT = 6543


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='aiotao', description="aiotao's commands.")
    commands = parser.add_subparsers(dest='command', required=True, metavar='COMMAND')
    serve_ws = commands.add_parser(
        'serve-ws',
        help="serve the application's websocket views alone",
        description=(
            "Serve the application's websocket views on the websockets "
            "library's server, without an HTTP server."
        ),
    )
    serve_ws.add_argument('config_uri', help='the ini file, e.g. development.ini#main')
    serve_ws.add_argument('--host', help='address to listen on ([server:main] host)')
    serve_ws.add_argument(
        '--port',
        type=int,
        help=f'port to listen on ([server:main] port, else {DEFAULT_PORT})',
    )
    serve_ws.add_argument(
        '--graceful-timeout',
        type=float,
        default=30.0,
        help='seconds the views get to end after SIGTERM/SIGINT (30)',
    )
    return parser


def address(config_uri: str, host: str | None, port: int | None) -> tuple[str, int]:
    """The address to listen on: the flags, else ``[server:main]``, else defaults."""
    section = server_section(config_uri.split('#', 1)[0])
    host = host or section.get('host') or DEFAULT_HOST
    if port is None:
        raw = section.get('port')
        port = int(raw) if raw and raw.isdigit() else DEFAULT_PORT
    return host, port


def serve_ws(args: argparse.Namespace, err: TextIO) -> int:
    from pyramid.paster import get_app, setup_logging

    from aiotao.serving.standalone import serve_websockets

    config_uri: str = args.config_uri
    ini = config_uri.split('#', 1)[0]
    try:
        with open(ini):
            pass
    except OSError as exc:
        err.write(f'aiotao serve-ws: cannot read {ini}: {exc.strerror}\n')
        return 2
    if args.port is not None and not 0 <= args.port <= 65535:
        err.write(f'aiotao serve-ws: --port {args.port}: expected 0 to 65535\n')
        return 2
    setup_logging(ini)
    host, port = address(config_uri, args.host, args.port)
    app = get_app(config_uri)
    try:
        asyncio.run(
            serve_websockets(app, host, port, graceful_timeout=args.graceful_timeout)
        )
    except OSError as exc:
        err.write(f'aiotao serve-ws: cannot listen on {host}:{port}: {exc}\n')
        return 1
    return 0


def main(argv: Sequence[str] | None = None, err: TextIO = sys.stderr) -> int:
    args = build_parser().parse_args(argv)
    if args.command == 'serve-ws':
        return serve_ws(args, err)
    return 2  # argparse refuses unknown commands before this


if __name__ == '__main__':
    sys.exit(main())
