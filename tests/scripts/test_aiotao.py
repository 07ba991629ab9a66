"""``aiotao serve-ws``: the websocket views served alone, as a real process."""

from __future__ import annotations

import asyncio
import io
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from aiotao.scripts.aiotao import address, main
from tests.harness.gunicorn import (  # noqa: F401  (fixtures)
    REPO_ROOT,
    ServerFactory,
    ServerProcess,
    free_port,
    program,
    server_process,
)

INI = """\
[app:main]
use = call:tests.sidecars.app:main

[server:main]
use = egg:gunicorn#main
host = 127.0.0.1
port = {port}

[loggers]
keys = root

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = INFO
handlers = console

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)s [%(name)s] %(message)s
"""


def write_ini(directory: Path, port: int) -> Path:
    ini = directory / 'ws.ini'
    ini.write_text(INI.format(port=port))
    return ini


def serve_ws(server_process: ServerFactory, tmp_path: Path) -> ServerProcess:  # noqa: F811
    """``aiotao serve-ws ws.ini``, on the port of its ``[server:main]``."""
    port = free_port()
    ini = write_ini(tmp_path, port)
    server = server_process(
        [program('aiotao', 'aiotao (pip install -e .)'), 'serve-ws', str(ini)],
        port=port,
        cwd=tmp_path,
        ready_path=None,
    )
    server.wait_for_log(r'serving the websocket views of .* on ws://127\.0\.0\.1:\d+')
    return server


def http_get(url: str) -> tuple[int, str, str | None]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode(), None
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), error.headers.get('Upgrade')


@pytest.mark.timeout(60)
async def test_serve_ws_serves_the_views_and_stops_on_sigterm(
    server_process: ServerFactory,  # noqa: F811
    tmp_path: Path,
) -> None:
    server = serve_ws(server_process, tmp_path)
    ws_url = server.url('/echo', scheme='ws')
    async with connect(ws_url) as client:
        await client.send('hello')
        assert await client.recv() == 'hello'
    # the pipeline refuses what the worker refuses
    with pytest.raises(InvalidStatus) as refused:
        async with connect(ws_url, origin='https://evil.example'):  # type: ignore[arg-type]
            pass
    assert refused.value.response.status_code == 403
    assert (
        b"origin 'https://evil.example' is not allowed" in refused.value.response.body
    )
    with pytest.raises(InvalidStatus) as refused:
        async with connect(server.url('/hello', scheme='ws')):
            pass
    assert refused.value.response.status_code == 404
    assert b'No websocket view answers /hello' in refused.value.response.body
    # no HTTP: a plain request is told to upgrade
    status, body, upgrade = await asyncio.to_thread(http_get, server.url('/hello'))
    assert (status, upgrade) == (426, 'websocket')
    assert 'serves websocket views only' in body

    async with connect(ws_url) as client:
        await client.send('still here')
        assert await client.recv() == 'still here'
        server.send_signal(signal.SIGTERM)
        with pytest.raises(ConnectionClosed):
            async with asyncio.timeout(10):
                await client.recv()
    assert client.close_code == 1001
    assert client.close_reason == 'server shutting down'
    assert await asyncio.to_thread(server.wait, 15) == 0


@pytest.mark.timeout(60)
async def test_sigint_stops_it_too(
    server_process: ServerFactory,  # noqa: F811
    tmp_path: Path,
) -> None:
    server = serve_ws(server_process, tmp_path)
    async with connect(server.url('/echo', scheme='ws')) as client:
        server.send_signal(signal.SIGINT)
        with pytest.raises(ConnectionClosed):
            async with asyncio.timeout(10):
                await client.recv()
    assert client.close_code == 1001
    assert await asyncio.to_thread(server.wait, 15) == 0
    with socket.socket() as sock:  # the port is free again
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(('127.0.0.1', server.port))


def test_address_comes_from_flags_then_server_main(tmp_path: Path) -> None:
    ini = write_ini(tmp_path, 7123)
    assert address(str(ini), None, None) == ('127.0.0.1', 7123)
    assert address(f'{ini}#main', '0.0.0.0', 9000) == ('0.0.0.0', 9000)
    bare = tmp_path / 'bare.ini'
    bare.write_text('[app:main]\nuse = call:tests.sidecars.app:main\n')
    assert address(str(bare), None, None) == ('127.0.0.1', 6543)


def test_missing_ini_is_a_clear_error(tmp_path: Path) -> None:
    err = io.StringIO()
    assert main(['serve-ws', str(tmp_path / 'nowhere.ini')], err=err) == 2
    assert f'cannot read {tmp_path / "nowhere.ini"}' in err.getvalue()


def test_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(('127.0.0.1', 0))
        taken.listen()
        port = taken.getsockname()[1]
        # a process of its own: serve-ws sets up the ini's logging
        result = subprocess.run(
            [
                sys.executable,
                '-m',
                'aiotao.scripts.aiotao',
                'serve-ws',
                str(write_ini(tmp_path, port)),
            ],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=REPO_ROOT,
            check=False,
        )
    assert result.returncode == 1
    assert f'cannot listen on 127.0.0.1:{port}' in result.stderr
    assert 'address already in use' in result.stderr.lower()
