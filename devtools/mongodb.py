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

From Python (the test fixtures)::

    with MongoDBServer(tmp_path) as server:
        client = pymongo.MongoClient(server.uri)
        ...
        server.stop()      # the database goes away...
        server.start()     # ...and comes back on the same port
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

DEFAULT_DATA_DIR = Path('var/mongodb')
DEFAULT_PORT = 27017
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0

_LISTENING = re.compile(r'secantus listening on [^\s:]+:(\d+)')


class SecantusDBMissing(RuntimeError):
    """SecantusDB is not installed in this Python."""

    def __init__(self) -> None:
        super().__init__(
            f'the development MongoDB needs SecantusDB, which is not installed '
            f'for {sys.executable}: pip install SecantusDB '
            f'(or pip install -e ".[test]")'
        )


class MongoDBServer:
    """A SecantusDB server process with its data in ``data_dir``.

    ``port=0`` takes a free port at the first start; later starts reuse it,
    so clients find the server again after a restart.
    """

    def __init__(
        self, data_dir: str | os.PathLike[str], port: int = 0, host: str = '127.0.0.1'
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.host = host
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        """``mongodb://host:port/`` of the running server."""
        if not self.port:
            raise RuntimeError('the server has not been started')
        return f'mongodb://{self.host}:{self.port}/'

    def uri_for(self, database: str) -> str:
        return f'{self.uri}{database}'

    @property
    def log_path(self) -> Path:
        return self.data_dir / 'secantus.log'

    @property
    def pid_path(self) -> Path:
        return self.data_dir / 'secantus.pid'

    def start(self, detach: bool = False) -> None:
        """Start the server and wait until it accepts connections.

        ``detach=True`` puts it in its own session, to outlive this process
        (``devtools/mongodb.py start``).
        """
        if self.process is not None and self.process.poll() is None:
            return
        if importlib.util.find_spec('secantus') is None:
            raise SecantusDBMissing()
        storage = self.data_dir / 'data'
        storage.mkdir(parents=True, exist_ok=True)
        # An empty config file stops SecantusDB from picking up a
        # secantusd.toml from the working directory or the home directory.
        config = self.data_dir / 'secantusd.toml'
        config.write_text('# written by devtools/mongodb.py; flags decide\n')
        log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        command = [
            sys.executable, '-m', 'secantus',
            '--config', str(config),
            '--host', self.host,
            '--port', str(self.port),
            '--storage-path', str(storage),
            '--log-level', 'INFO',
        ]  # fmt: skip
        with self.log_path.open('ab') as log:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=detach,
            )
        self.port = self._wait_listening(log_start)
        self.pid_path.write_text(f'{self.process.pid} {self.port}\n')

    def _wait_listening(self, log_start: int) -> int:
        # The server logs its port once bound: with --port 0 that is the
        # only race-free way to learn it.
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            with self.log_path.open('rb') as log:
                log.seek(log_start)
                found = _LISTENING.search(log.read().decode(errors='replace'))
            if found:
                return int(found.group(1))
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            f'SecantusDB did not start on {self.host}:{self.port or "a free port"}; '
            f'its log ({self.log_path}) ends with:\n{self._log_tail()}'
        )

    def _log_tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return '\n'.join(
                self.log_path.read_text(errors='replace').splitlines()[-lines:]
            )
        return '(no log)'

    def stop(self) -> None:
        """Stop the server (SIGTERM: it closes WiredTiger cleanly)."""
        process, self.process = self.process, None
        if process is not None:
            _terminate(process.pid, lambda: process.poll() is not None)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=1)
        with contextlib.suppress(FileNotFoundError):
            self.pid_path.unlink()

    def __enter__(self) -> MongoDBServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _terminate(pid: int, exited: Callable[[], bool]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        if exited():
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


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
    _terminate(pid, lambda: not _is_alive(pid))
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
