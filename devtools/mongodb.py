"""The development MongoDB: SecantusDB in a separate process.

SecantusDB (``pip install SecantusDB``) speaks MongoDB's wire protocol over
WiredTiger and needs no ``mongod`` binary.  It is GPL and for development and
tests only: this launcher runs it as its own process (``python -m secantus``)
and aiotao never imports it.

Command line::

    python devtools/mongodb.py start [--data var/mongodb] [--port 27017]
    python devtools/mongodb.py stop  [--data var/mongodb]
    python devtools/mongodb.py run   [--data var/mongodb] [--port 27017] [-- COMMAND...]

``start`` serves in the background (pid and log in the data directory) and
prints the URI; ``stop`` stops it.  ``run`` serves in the foreground until
Ctrl-C, or, given a command, for as long as the command runs, with
``MONGO_URI`` in its environment.  ``--port 0`` picks a free port.

The server process is :class:`aiotao.testing.mongodb_server.MongoDBServer`,
the one the tests run too.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from aiotao.testing.mongodb_server import MongoDBServer, SecantusDBMissing, terminate

# (the tests import the server class from here too)
__all__ = ['MongoDBServer', 'SecantusDBMissing', 'main']

DEFAULT_DATA_DIR = Path('var/mongodb')
DEFAULT_PORT = 27017


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_pid_file(data_dir: Path) -> tuple[int, int] | None:
    try:
        pid, port = (data_dir / 'secantus.pid').read_text().split()
    except (FileNotFoundError, ValueError):
        return None
    return int(pid), int(port)


def _port_is_free(host: str, port: int) -> bool:
    if port == 0:
        return True
    with socket.socket() as probe:
        return probe.connect_ex((host, port)) != 0


def cmd_start(args: argparse.Namespace) -> int:
    running = _read_pid_file(args.data)
    if running and _is_alive(running[0]):
        print(f'mongodb://{args.host}:{running[1]}/')
        return 0
    if not _port_is_free(args.host, args.port):
        print(
            f'port {args.port} is taken (another MongoDB?): stop it, or use --port 0',
            file=sys.stderr,
        )
        return 1
    server = MongoDBServer(args.data, args.port, args.host)
    server.start(detach=True)
    print(server.uri)
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    running = _read_pid_file(args.data)
    if running is None:
        print(f'no development MongoDB runs from {args.data}', file=sys.stderr)
        return 0
    pid = running[0]
    terminate(pid, lambda: not _is_alive(pid))
    (args.data / 'secantus.pid').unlink(missing_ok=True)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    if not _port_is_free(args.host, args.port):
        print(
            f'port {args.port} is taken (another MongoDB?): stop it, or use --port 0',
            file=sys.stderr,
        )
        return 1
    command: list[str] = args.command
    if command[:1] == ['--']:
        command = command[1:]
    server = MongoDBServer(args.data, args.port, args.host)
    # Its own session: Ctrl-C must not stop the database before the command
    # (gunicorn finishing its requests) is done with it.
    server.start(detach=True)
    try:
        print(f'development MongoDB at {server.uri} (data in {server.data_dir})')
        sys.stdout.flush()
        if not command:
            return _serve_until_interrupted(server)
        return _run_command(command, dict(os.environ, MONGO_URI=server.uri))
    finally:
        server.stop()


def _serve_until_interrupted(server: MongoDBServer) -> int:
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        while server.process is not None and server.process.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    print('the development MongoDB exited; see its log', file=sys.stderr)
    return 1


def _run_command(command: list[str], environ: dict[str, str]) -> int:
    child = subprocess.Popen(command, env=environ)
    # SIGTERM is handed on; Ctrl-C reached the command already (the whole
    # foreground group gets it).  Either way the command shuts down in its
    # own time (gunicorn: gracefully) and the database stops after it.
    signal.signal(signal.SIGTERM, lambda signum, frame: child.send_signal(signum))
    while True:
        try:
            return child.wait()
        except KeyboardInterrupt:
            continue


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    sub = parser.add_subparsers(dest='action', required=True)
    for name, func in (('start', cmd_start), ('stop', cmd_stop), ('run', cmd_run)):
        action = sub.add_parser(name)
        action.set_defaults(func=func)
        action.add_argument('--data', type=Path, default=DEFAULT_DATA_DIR)
        action.add_argument('--host', default='127.0.0.1')
        if name != 'stop':
            action.add_argument('--port', type=int, default=DEFAULT_PORT)
        if name == 'run':
            action.add_argument('command', nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (SecantusDBMissing, RuntimeError) as exc:
        print(f'devtools/mongodb.py: {exc}', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
