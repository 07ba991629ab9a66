"""The broadcast application under real gunicorn masters (aiotao's worker)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.request import urlopen

from tests.harness.gunicorn import ServerFactory, ServerProcess
from tests.pkgs.mongoapp.served import LOGGING, WORKER


def write_ini(path: Path, **settings: Any) -> Path:
    lines = ['[app:main]', 'use = call:tests.pkgs.broadcastapp:main']
    lines += [f'{key} = {value}' for key, value in settings.items()]
    path.write_text('\n'.join(lines) + '\n' + LOGGING)
    return path


def serve(
    gunicorn: ServerFactory,
    directory: Path,
    *,
    workers: int = 2,
    **settings: Any,
) -> ServerProcess:
    """``gunicorn --paste app.ini -w WORKERS`` on a free port, serving once ready.

    ``directory`` holds the ini; give each master its own.
    """
    directory.mkdir(parents=True, exist_ok=True)
    ini = write_ini(directory / 'app.ini', **settings)
    argv = [
        '--paste', str(ini),
        '-w', str(workers),
        '-k', WORKER,
        '--graceful-timeout', '5',
    ]  # fmt: skip
    return gunicorn(argv, cwd=directory, ready_path='/pid')


def worker_pids_serving(
    server: ServerProcess, workers: int, timeout: float = 20
) -> set[int]:
    """Ask ``/pid`` on new connections until ``workers`` different workers answered."""
    seen: set[int] = set()
    deadline = time.monotonic() + timeout
    while len(seen) < workers:
        assert time.monotonic() < deadline, (
            f'only workers {seen} answered within {timeout}s; log:\n{server.log()}'
        )
        with urlopen(server.url('/pid'), timeout=5) as response:
            seen.add(int(response.read()))
    return seen
