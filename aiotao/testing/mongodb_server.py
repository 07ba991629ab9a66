"""A SecantusDB server process: the development MongoDB of tests and ``make run``.

SecantusDB (``pip install SecantusDB``) speaks MongoDB's wire protocol over
WiredTiger and needs no ``mongod`` binary.  It is GPL licensed and meant
for development and tests: aiotao never imports it, it runs
``python -m secantus`` as a process of its own.

::

    with MongoDBServer(tmp_path) as server:
        client = pymongo.MongoClient(server.uri)
        ...
        server.stop()      # the database goes away...
        server.start()     # ...and comes back on the same port, data kept

``MongoDBServer(path, storage=':memory:')`` keeps the data in memory (a
throw-away server).  The pytest plugin's ``aiotao_mongodb`` fixture
(:mod:`aiotao.testing.mongodb`) and ``devtools/mongodb.py`` (``make run``)
both run this class.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

__all__ = ['MongoDBServer', 'MongoUnavailable', 'SecantusDBMissing', 'terminate']

#: How long SecantusDB may take to start listening, and to stop.
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0

_LISTENING = re.compile(r'secantus listening on [^\s:]+:(\d+)')


class MongoUnavailable(RuntimeError):
    """No MongoDB server was given and none could be started."""


class SecantusDBMissing(MongoUnavailable):
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
        self,
        data_dir: str | os.PathLike[str],
        port: int = 0,
        host: str = '127.0.0.1',
        *,
        storage: str | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.host = host
        self.port = port
        #: where the data lives: ``data_dir/data`` unless ``':memory:'``
        self.storage = storage
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
        self.data_dir.mkdir(parents=True, exist_ok=True)
        storage = self.storage
        if storage is None:
            storage = str(self.data_dir / 'data')
            Path(storage).mkdir(exist_ok=True)
        # An empty config file stops SecantusDB from picking up a
        # secantusd.toml from the working directory or the home directory.
        config = self.data_dir / 'secantusd.toml'
        config.write_text('# written by aiotao.testing; the command line decides\n')
        log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        command = [
            sys.executable, '-m', 'secantus',
            '--config', str(config),
            '--host', self.host,
            '--port', str(self.port),
            '--storage-path', storage,
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
        raise MongoUnavailable(
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
            terminate(process.pid, lambda: process.poll() is not None)
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


def terminate(pid: int, exited: Callable[[], bool]) -> None:
    """SIGTERM ``pid``, and SIGKILL it if ``exited()`` is still false after a while."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        if exited():
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
