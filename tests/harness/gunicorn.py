"""Real server processes for tests: start one, wait until it serves, stop it.

Every server listens on 127.0.0.1 on a free port, writes its output to a
log file the test can read, and runs in its own process group, so that
teardown can end the master and its workers together (and only them).

Fixtures (import them into a ``conftest.py``)::

    from tests.harness.gunicorn import gunicorn, server_process  # noqa: F401

    def test_hello(gunicorn):
        server = gunicorn(['--paste', str(ini)], cwd=tmp_path)
        assert urlopen(server.url('/hello')).read() == b'Hello, world!'

* ``gunicorn(args, ...)`` starts ``gunicorn`` with ``args``, adding
  ``--bind 127.0.0.1:PORT`` (unless ``bind=False``) and
  ``--no-control-socket`` (several masters share no control socket);
* ``server_process(argv, port=...)`` starts any server command (uvicorn,
  pserve) the same way.

Servers still running when the test ends are stopped with SIGTERM, then
SIGKILL.  A missing server program fails the test, naming the package to
install.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

#: The repository root: tests and the demo app import from here.
REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
_WORKER_PID = re.compile(r'Booting worker with pid: (\d+)')


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


def program(name: str, package: str | None = None) -> str:
    """The path of a console script of this virtualenv, or fail the test."""
    path = BIN / name
    if not path.exists():
        pytest.fail(
            f'{name} is not installed in {BIN}: pip install {package or name}',
            pytrace=False,
        )
    return str(path)


class ServerProcess:
    """A server started by a test, listening on ``host:port``."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        port: int,
        log_path: Path,
        host: str = '127.0.0.1',
    ) -> None:
        self.process = process
        self.host = host
        self.port = port
        self.log_path = log_path

    def __repr__(self) -> str:
        return f'<ServerProcess pid={self.pid} {self.host}:{self.port}>'

    @property
    def pid(self) -> int:
        return self.process.pid

    def url(self, path: str = '/', scheme: str = 'http') -> str:
        return f'{scheme}://{self.host}:{self.port}{path}'

    def log(self) -> str:
        """Everything the server wrote so far (stdout and stderr)."""
        return self.log_path.read_text(errors='replace')

    def wait_for_log(self, pattern: str, timeout: float = 10.0) -> re.Match[str]:
        """Wait until the log matches ``pattern`` (a regex); return the match."""
        deadline = time.monotonic() + timeout
        while True:
            match = re.search(pattern, self.log())
            if match is not None:
                return match
            if time.monotonic() > deadline:
                raise AssertionError(
                    f'{self!r} did not log {pattern!r} within {timeout}s; '
                    f'log:\n{self.log()}'
                )
            time.sleep(0.05)

    def worker_pids(self) -> list[int]:
        """The pids of the workers gunicorn booted, in order."""
        return [int(pid) for pid in _WORKER_PID.findall(self.log())]

    def wait_until_serving(self, path: str = '/', timeout: float = 30.0) -> None:
        """Wait until an HTTP request to ``path`` gets any response."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise AssertionError(
                    f'the server exited with {self.process.returncode} before '
                    f'serving; log:\n{self.log()}'
                )
            connection = http.client.HTTPConnection(self.host, self.port, timeout=2)
            try:
                connection.request('GET', path)
                connection.getresponse().read()
                return
            except (OSError, http.client.HTTPException):
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f'{self!r} did not serve {path} within {timeout}s; '
                        f'log:\n{self.log()}'
                    ) from None
                time.sleep(0.1)
            finally:
                connection.close()  # also after a failure: no socket left behind

    def send_signal(self, sig: int) -> None:
        self.process.send_signal(sig)

    def wait(self, timeout: float) -> int:
        """Wait for the server to exit; fail (and kill it) after ``timeout``."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f'{self!r} did not exit within {timeout}s; log:\n{self.log()}'
            ) from None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send ``sig`` (graceful SIGTERM by default) and wait for the exit."""
        if self.process.poll() is None:
            self.send_signal(sig)
        return self.wait(timeout)

    def kill(self) -> None:
        """SIGKILL the server's process group (its master and workers)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()


def start_server(
    argv: Sequence[str],
    *,
    port: int,
    log_path: Path,
    cwd: Path | str = REPO_ROOT,
    env: dict[str, str] | None = None,
    ready_path: str | None = '/',
    timeout: float = 30.0,
    import_checkout: bool = True,
) -> ServerProcess:
    """Start ``argv`` and wait until it answers HTTP on ``port``.

    The server imports aiotao and the tests' apps from this checkout,
    unless ``import_checkout`` is false (a project's own virtualenv, with
    aiotao installed from the wheel).
    """
    full_env = dict(os.environ)
    if import_checkout:
        full_env['PYTHONPATH'] = os.pathsep.join(
            [str(REPO_ROOT), *filter(None, [full_env.get('PYTHONPATH')])]
        )
    else:
        full_env.pop('PYTHONPATH', None)
        full_env.pop('VIRTUAL_ENV', None)
    full_env['PYTHONUNBUFFERED'] = '1'
    full_env.update(env or {})
    log_file = log_path.open('wb')
    try:
        process = subprocess.Popen(
            list(argv),
            cwd=str(cwd),
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, see kill()
        )
    finally:
        log_file.close()
    server = ServerProcess(process, port, log_path)
    if ready_path is not None:
        try:
            server.wait_until_serving(ready_path, timeout)
        except BaseException:
            server.kill()
            raise
    return server


ServerFactory = Callable[..., ServerProcess]


class ServerPool:
    """The servers one test started; :meth:`stop_all` ends those still running."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[ServerProcess] = []

    def start(
        self, argv: Sequence[str], *, port: int | None = None, **kwargs: Any
    ) -> ServerProcess:
        port = port or free_port()
        log_path = self.log_dir / f'server-{len(self.started)}.log'
        server = start_server(argv, port=port, log_path=log_path, **kwargs)
        self.started.append(server)
        return server

    def start_gunicorn(
        self,
        args: Sequence[str],
        *,
        bind: bool = True,
        port: int | None = None,
        cwd: Path | str | None = None,
        **kwargs: Any,
    ) -> ServerProcess:
        port = port or free_port()
        argv = [program('gunicorn'), *args]
        if bind:
            argv += ['--bind', f'127.0.0.1:{port}']
        if not any(arg.startswith('--control-socket') for arg in args):
            argv.append('--no-control-socket')
        return self.start(argv, port=port, cwd=cwd or self.log_dir, **kwargs)

    def stop_all(self) -> None:
        for server in self.started:
            if server.process.poll() is None:
                server.send_signal(signal.SIGTERM)
                try:
                    server.process.wait(10)
                except subprocess.TimeoutExpired:
                    server.kill()


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[ServerFactory]:
    """``server_process(argv, port=None, cwd=..., env=..., ready_path='/')``."""
    pool = ServerPool(tmp_path)
    yield pool.start
    pool.stop_all()


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[ServerFactory]:
    """``gunicorn(args, bind=True, port=None, cwd=tmp_path, env=..., ready_path='/')``.

    Starts ``gunicorn *args --bind 127.0.0.1:PORT --no-control-socket`` in
    ``tmp_path`` (no stray ``gunicorn.conf.py`` is read there) with the
    repository on ``PYTHONPATH``.
    """
    pool = ServerPool(tmp_path)
    yield pool.start_gunicorn
    pool.stop_all()
