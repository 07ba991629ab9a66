"""Fixtures: real gunicorn masters running aiotao's worker on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.harness.gunicorn import (  # noqa: F401  (fixtures)
    ServerFactory,
    ServerProcess,
    gunicorn,
    server_process,
)

WORKER = 'aiotao.serving.gunicorn.Worker'


def write_ini(path: Path, factory: str = 'main', **settings: Any) -> Path:
    """An ini whose ``[app:main]`` is ``tests.pkgs.servingapp:<factory>``."""
    lines = ['[app:main]', f'use = call:tests.pkgs.servingapp:{factory}']
    lines += [f'{key} = {value}' for key, value in settings.items()]
    path.write_text('\n'.join(lines) + '\n')
    return path


@pytest.fixture
def events_file(tmp_path: Path) -> Path:
    return tmp_path / 'events.txt'


@pytest.fixture
def serve(
    gunicorn: ServerFactory,  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
    events_file: Path,
) -> Callable[..., ServerProcess]:
    """``serve(*gunicorn_args, factory='main', **settings)``: one aiotao worker.

    ``settings`` go to the ini's ``[app:main]``, e.g.
    ``serve(**{'aiotao.max_body_size': 1024})``.
    """

    def start(
        *args: str,
        factory: str = 'main',
        ready_path: str | None = '/hello',
        access_log: bool = True,
        **settings: Any,
    ) -> ServerProcess:
        settings.setdefault('servingapp.events_file', events_file)
        settings.setdefault('servingapp.file', Path(__file__).parent / 'conftest.py')
        ini = write_ini(tmp_path / 'app.ini', factory, **settings)
        argv: Sequence[str] = [
            '--paste', str(ini),
            '--worker-class', WORKER,
            '--workers', '1',
            *(['--access-logfile', '-'] if access_log else []),
            '--log-level', 'info',
            '--graceful-timeout', '10',
            *args,
        ]  # fmt: skip
        return gunicorn(argv, ready_path=ready_path)

    return start
