"""The repository's ``development.ini`` and ``gunicorn.conf.py``, as a user runs them.

Both files are copied verbatim into a temporary directory (only the port is
changed, so tests may run side by side), and the commands are run there
exactly as the README says, with no other flag.
"""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
import pytest
from websockets.asyncio.client import connect

from tests.harness.gunicorn import REPO_ROOT, ServerFactory, free_port, program


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, int]:
    """A directory holding the two files, the ini's port set to a free one."""
    port = free_port()
    ini = (REPO_ROOT / 'development.ini').read_text()
    # [server:main]'s port comes first; the servers of the [aiotao.server:NAME]
    # sections after it move to free ports too
    ports = iter([port])
    ini, replaced = re.subn(
        r'(?m)^port = \d+$', lambda _: f'port = {next(ports, None) or free_port()}', ini
    )
    assert replaced >= 1, 'development.ini has no "port = ..." line'
    (tmp_path / 'development.ini').write_text(ini)
    (tmp_path / 'gunicorn.conf.py').write_text(
        (REPO_ROOT / 'gunicorn.conf.py').read_text()
    )
    return tmp_path, port


async def check_demo(base: str) -> None:
    """The demo app's pages, as served."""
    async with aiohttp.ClientSession() as session:
        async with session.get(f'{base}/sleep?seconds=0.05') as response:
            assert response.status == 200
            assert await response.json() == {'slept': 0.05}
        async with session.get(f'{base}/') as response:
            home = await response.text()
            assert '<a href="/page">/page</a>' in home
        async with session.get(f'{base}/page') as response:
            assert response.headers['Content-Type'].startswith('text/html')
            page = await response.text()
            assert page.count('<tr><td>') == 20
            assert '<td>item 19</td><td>23.75</td>' in page
        async with session.get(f'{base}/json') as response:
            assert (await response.json())['server'] == 'aiotao'
    async with connect(base.replace('http:', 'ws:') + '/echo') as ws:
        await ws.send('hello over a websocket')
        assert await ws.recv() == 'hello over a websocket'


@pytest.mark.timeout(60)
async def test_gunicorn_paste_development_ini_without_flags(
    server_process: ServerFactory,
    project: tuple[Path, int],
) -> None:
    directory, port = project
    server = server_process(
        [program('gunicorn'), '--paste', 'development.ini'],
        port=port,  # from the ini, through gunicorn.conf.py
        cwd=directory,
        # gunicorn 27's control socket goes to $XDG_RUNTIME_DIR/gunicorn.ctl:
        # one per test, so that masters running side by side do not collide
        env={'XDG_RUNTIME_DIR': str(directory)},
    )
    log = server.log()
    assert 'Using worker: aiotao.serving.gunicorn.Worker' in log
    assert re.search(r'aiotao worker \(pid: \d+\) serving <PyramidApplication', log)
    await check_demo(server.url('').rstrip('/'))
    # the ini's logging configuration is in use (its format, gunicorn's access log)
    server.wait_for_log(r'INFO  \[gunicorn\.access:\d+\]\[MainThread\] .*"GET /page')
    assert server.stop() == 0


@pytest.mark.timeout(60)
async def test_pserve_development_ini(
    server_process: ServerFactory,
    project: tuple[Path, int],
) -> None:
    directory, port = project
    server = server_process(
        [program('pserve', 'pyramid'), 'development.ini'],
        port=port,
        cwd=directory,
        env={'XDG_RUNTIME_DIR': str(directory)},
    )
    assert 'Using worker: aiotao.serving.gunicorn.Worker' in server.log()
    await check_demo(server.url('').rstrip('/'))
    assert server.stop() == 0
