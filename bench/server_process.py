"""Server processes for the benchmarks: start on loopback, find the worker, stop.

Each server runs in its own session (process group), so that stopping it
ends its master and worker together and nothing else.  The worker's CPU
time is read from ``/proc``: a run that did not keep the worker busy was
limited by something else (the load generator, the machine being shared).
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

CLOCK_TICKS = os.sysconf('SC_CLK_TCK')


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (all its threads) so far."""
    with open(f'/proc/{pid}/stat', 'rb') as stat:
        # the command name, in parentheses, may contain spaces
        fields = stat.read().rsplit(b')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def children(pid: int) -> list[int]:
    """The pids of the direct children of ``pid``."""
    found: list[int] = []
    for task in Path(f'/proc/{pid}/task').iterdir():
        text = (task / 'children').read_text().split()
        found.extend(int(child) for child in text)
    return found


class ServerProcess:
    """One server: ``argv`` listening on ``127.0.0.1:port``, output in a log."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        port: int,
        log_path: Path,
        *,
        cwd: Path,
        env: dict[str, str],
        forks_worker: bool,
    ) -> None:
        self.name = name
        self.port = port
        self.log_path = log_path
        self.forks_worker = forks_worker
        with log_path.open('wb') as log:
            self.process = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, see stop()
            )
        self.worker_pid: int | None = None

    def url(self, path: str, scheme: str = 'http') -> str:
        return f'{scheme}://127.0.0.1:{self.port}{path}'

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors='replace')
        return '\n'.join(text.splitlines()[-lines:])

    def wait_until_serving(self, path: str, timeout: float = 30.0) -> None:
        """Wait for an answer on ``path``, then note the worker's pid."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f'{self.name} exited with {self.process.returncode} before '
                    f'serving; its log ({self.log_path}) ends with:\n'
                    f'{self.log_tail()}'
                )
            try:
                self.get(path)
                break
            except (OSError, http.client.HTTPException):
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f'{self.name} did not serve {path} within {timeout:g}s; '
                        f'its log ({self.log_path}) ends with:\n{self.log_tail()}'
                    ) from None
                time.sleep(0.1)
        self.worker_pid = self._find_worker()

    def _find_worker(self) -> int:
        if not self.forks_worker:
            return self.process.pid
        workers = children(self.process.pid)
        if len(workers) != 1:
            raise RuntimeError(
                f'{self.name}: expected one worker process, found {workers}'
            )
        return workers[0]

    def get(self, path: str) -> tuple[int, bytes]:
        """One GET request: status and body."""
        connection = http.client.HTTPConnection('127.0.0.1', self.port, timeout=5)
        try:
            connection.request('GET', path)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def cpu_seconds(self) -> float:
        """CPU time the worker has used so far."""
        assert self.worker_pid is not None
        return cpu_seconds(self.worker_pid)

    def wait_until_idle(self, timeout: float = 10.0, busy: float = 0.05) -> None:
        """Wait until the worker uses under ``busy`` of a core (queued work done)."""
        deadline = time.monotonic() + timeout
        before = self.cpu_seconds()
        while time.monotonic() < deadline:
            time.sleep(0.25)
            after = self.cpu_seconds()
            if after - before < busy * 0.25:
                return
            before = after

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the master, then SIGKILL the process group if it lingers."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
                return
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
