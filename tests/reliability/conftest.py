"""Fixtures of the reliability suite: the demo served by real workers.

Every test here runs against ``gunicorn`` with aiotao's worker on
127.0.0.1, serving the demo (``aiotao_demo``: ``/hello``, ``/echo``, the
chat and the game) from an ini written into the test's own directory.

The heavy variants (the issue's full counts) run when ``AIOTAO_SOAK=1``
is set (``make soak``); ``make test`` runs smaller counts that still
prove the same point.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from tests.harness.gunicorn import ServerFactory, ServerProcess, gunicorn
from tests.harness.mongodb import mongo_uri, mongodb

__all__ = ['gunicorn', 'mongo_uri', 'mongodb']

#: ``AIOTAO_SOAK=1``: run the issue's full counts (``make soak``).
SOAK = os.environ.get('AIOTAO_SOAK', '') not in ('', '0')


def scaled(ci: int, soak: int) -> int:
    """The count of a scenario: ``soak`` under ``make soak``, else ``ci``."""
    return soak if SOAK else ci


def write_demo_ini(path: Path, mongo_uri: str, **settings: str) -> Path:
    """An ini serving the demo, its secret the test's own (never committed)."""
    lines = [
        '[app:main]',
        'use = egg:aiotao_demo',
        f'mongo.uri = {mongo_uri}',
        'mongo.option.serverSelectionTimeoutMS = 2000',
        'session.secret = reliability-test-secret',
        *(f'{name} = {value}' for name, value in settings.items()),
        '',
    ]
    path.write_text('\n'.join(lines))
    return path


ServeDemo = Callable[..., ServerProcess]


@pytest.fixture
def serve_demo(gunicorn: ServerFactory, tmp_path: Path, mongo_uri: str) -> ServeDemo:
    """``serve_demo(*gunicorn_args, workers=1, **settings)``: the demo, serving."""

    def serve(*args: str, workers: int = 1, **settings: str) -> ServerProcess:
        ini = write_demo_ini(
            tmp_path / f'demo-{len(list(tmp_path.glob("demo-*.ini")))}.ini',
            mongo_uri,
            **settings,
        )
        argv: Sequence[str] = [
            '--paste', str(ini),
            '-k', 'aiotao.serving.gunicorn.Worker',
            '-w', str(workers),
            # the soak's counts (1,000 slowloris and 500 websockets at once)
            # measure slow clients, not admission control
            '--worker-connections', '10000',
            *args,
        ]  # fmt: skip
        server = gunicorn(list(argv), ready_path='/hello')
        deadline = time.monotonic() + 30
        # every worker booted, not only the first to answer
        while len(server.worker_pids()) < workers:
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.05)
        return server

    return serve
