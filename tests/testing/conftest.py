"""Fixtures: the test app in-process and under a real gunicorn worker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from aiotao.testing import TestClient
from tests.harness.gunicorn import ServerPool, ServerProcess
from tests.testing.served import InProcess, OverTCP, Served

WORKER = 'aiotao.serving.gunicorn.Worker'


def write_ini(path: Path, **settings: str) -> Path:
    """An ini serving :func:`tests.testing.app.main`."""
    lines = ['[app:main]', 'use = call:tests.testing.app:main']
    lines += [f'{key} = {value}' for key, value in settings.items()]
    path.write_text('\n'.join(lines) + '\n')
    return path


@pytest.fixture(scope='module')
def app_ini(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ini both servers of the parity suite load."""
    return write_ini(tmp_path_factory.mktemp('ini') / 'app.ini')


@pytest.fixture(scope='module')
def gunicorn_server(
    app_ini: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """One gunicorn master (one aiotao worker) for the module's tests."""
    pool = ServerPool(tmp_path_factory.mktemp('gunicorn'))
    args = ['--paste', str(app_ini), '--worker-class', WORKER, '--workers', '1']
    try:
        yield pool.start_gunicorn(
            [*args, '--graceful-timeout', '5'], ready_path='/hello'
        )
    finally:
        pool.stop_all()


@pytest.fixture(params=['client', 'gunicorn'])
async def served(
    request: pytest.FixtureRequest, app_ini: Path
) -> AsyncIterator[Served]:
    """The same app served in-process by the test client, then by gunicorn."""
    if request.param == 'client':
        async with TestClient(app_ini, raise_server_exceptions=False) as client:
            yield InProcess(client)
        return
    server: ServerProcess = request.getfixturevalue('gunicorn_server')
    jar = aiohttp.CookieJar(unsafe=True)  # cookies from 127.0.0.1 too
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        yield OverTCP(server, session)
