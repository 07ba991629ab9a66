"""A real ``redis-server`` for tests: started on a free port, stopped, restarted.

Fixtures (import them into a ``conftest.py``)::

    from tests.harness.redis import redis_server  # noqa: F401

    async def test_publish(redis_server):
        client = redis.asyncio.Redis.from_url(redis_server.url)
        ...
        redis_server.stop()       # Redis goes away...
        redis_server.start()      # ...and comes back on the same port

* ``redis_server``: a :class:`RedisServer` of the test's own, started, with
  its files in ``tmp_path``, stopped when the test ends.

:class:`RedisServer` works without pytest too (``bench/fanout.py`` uses it):
``start()``, ``url`` (``redis://127.0.0.1:PORT/0``), ``stop()``, and
``start()`` again on the same port.  Nothing is persisted (``--save ''
--appendonly no``): a restart is an empty Redis, as after a crash.

Without ``redis-server`` the tests that need it fail, saying
``apt-get install redis-server``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType

import pytest

REDIS_SERVER = 'redis-server'
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


class RedisServerMissing(RuntimeError):
    """``redis-server`` is not installed."""

    def __init__(self) -> None:
        super().__init__(
            'redis-server or redis-cli is not installed (not on PATH nor '
            '/usr/bin): apt-get install redis-server'
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


def redis_server_program() -> str:
    """The path of ``redis-server``, or :exc:`RedisServerMissing`."""
    found = shutil.which(REDIS_SERVER) or shutil.which(REDIS_SERVER, path='/usr/bin')
    if found is None:
        raise RedisServerMissing()
    return found


def redis_cli(*args: str, timeout: float = 30.0) -> str:
    """Run ``redis-cli`` (Debian's ``redis-tools``, with the server); its output."""
    program = shutil.which('redis-cli') or shutil.which('redis-cli', path='/usr/bin')
    if program is None:
        raise RedisServerMissing()
    done = subprocess.run(
        [program, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode:
        raise RuntimeError(f'redis-cli {" ".join(args)}: {done.stderr or done.stdout}')
    return done.stdout


class RedisServer:
    """A ``redis-server`` process on 127.0.0.1, its files in ``directory``.

    ``port=0`` takes a free port at the first :meth:`start`; later starts
    reuse it, so clients find the server again after a restart.
    """

    def __init__(
        self, directory: str | Path, port: int = 0, extra_args: Sequence[str] = ()
    ) -> None:
        self.directory = Path(directory).absolute()
        self.host = '127.0.0.1'
        self.port = port
        #: More ``redis-server`` arguments (``--replicaof``, ``--cluster-enabled``).
        self.extra_args = list(extra_args)
        self.process: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        state = 'running' if self.running else 'stopped'
        return f'<RedisServer {self.host}:{self.port} {state}>'

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        if not self.port:
            raise RuntimeError('the server has not been started')
        return f'redis://{self.host}:{self.port}/0'

    @property
    def log_path(self) -> Path:
        return self.directory / 'redis.log'

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> RedisServer:
        """Start the server (again) and wait until it accepts connections."""
        if self.running:
            return self
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = self.port or _free_port()
        self.process = subprocess.Popen(
            self.command_line(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
        )
        self._wait_ready()
        return self

    def command_line(self) -> list[str]:
        """The ``redis-server`` command that starts this server."""
        return [
            redis_server_program(),
            '--bind', self.host,
            '--port', str(self.port),
            '--dir', str(self.directory),
            '--save', '',
            '--appendonly', 'no',
            '--daemonize', 'no',
            '--logfile', str(self.log_path),
            *self.extra_args,
        ]  # fmt: skip

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if self.ping():
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(
            f'redis-server did not start on {self.host}:{self.port}; its log '
            f'({self.log_path}):\n{self._log_tail()}'
        )

    def ping(self) -> bool:
        """``True`` if the server answers ``PING`` right now."""
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as sock:
                sock.sendall(b'PING\r\n')
                return sock.recv(16).startswith(b'+PONG')
        except OSError:
            return False

    def _log_tail(self, lines: int = 15) -> str:
        try:
            return '\n'.join(self.log_path.read_text().splitlines()[-lines:])
        except OSError:
            return '(no log)'

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL); the port stays reserved for :meth:`start`."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """SIGKILL the server, as a crash would; :meth:`start` brings it back."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def command(self, *args: str) -> str:
        """Run ``redis-cli`` against the server; its output."""
        return redis_cli('-h', self.host, '-p', str(self.port), *args)

    def restart(self) -> RedisServer:
        """Stop and start again on the same port (an empty Redis)."""
        self.stop()
        return self.start()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A started :class:`RedisServer` of this test's own."""
    server = RedisServer(tmp_path / 'redis')
    try:
        server.start()
    except RedisServerMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()
