"""The ini's servers under real gunicorn masters running aiotao's worker.

The demo's two servers (the UDP game-state echo and the TCP admin console)
are declared in an ini as in ``development.ini``, on free ports.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from tests.harness.gunicorn import (
    REPO_ROOT,
    ServerFactory,
    ServerProcess,
    free_port,
    program,
)
from tests.sidecars.test_running import port_is_free, udp_ask

WORKER = 'aiotao.serving.gunicorn.Worker'


def write_ini(
    directory: Path, udp: int, tcp: int, *, extra: str = '', http: int | None = None
) -> Path:
    server_main = (
        f'[server:main]\nuse = egg:gunicorn#main\nhost = 127.0.0.1\nport = {http}\n'
        f'worker_class = {WORKER}\n\n'
        if http
        else ''
    )
    ini = directory / 'servers.ini'
    ini.write_text(
        '[app:main]\nuse = call:tests.sidecars.app:main\n\n'
        + server_main
        + f'[aiotao.server:game_echo]\nkind = udp\nhost = 127.0.0.1\nport = {udp}\n'
        'protocol = aiotao_demo.game_echo:GameStateEcho\n\n'
        f'[aiotao.server:admin]\nkind = tcp\nhost = 127.0.0.1\nport = {tcp}\n'
        'factory = aiotao_demo.console:start_console\noption.max_line = 100\n\n' + extra
    )
    return ini


class Console:
    """A line-based client of the admin console."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> tuple[Console, str]:
        reader, writer = await asyncio.open_connection('127.0.0.1', port)
        console = cls(reader, writer)
        return console, await console.line()

    async def line(self) -> str:
        async with asyncio.timeout(5):
            return (await self.reader.readline()).decode()

    async def ask(self, command: str) -> str:
        self.writer.write(command.encode() + b'\n')
        return await self.line()

    def close(self) -> None:
        self.writer.close()


def start(gunicorn: ServerFactory, ini: Path, *args: str) -> ServerProcess:
    return gunicorn(['-k', WORKER, '--paste', str(ini), *args])


@pytest.mark.timeout(60)
async def test_both_servers_answer_and_survive_bad_input(
    gunicorn: ServerFactory, tmp_path: Path
) -> None:
    udp, tcp = free_port(), free_port()
    server = start(gunicorn, write_ini(tmp_path, udp, tcp))
    [worker] = server.worker_pids()

    # the game-state echo: the state back, with the server's clock and pid
    reply = json.loads(await udp_ask(udp, b'{"player": "ann", "x": 3, "seq": 1}'))
    assert reply['state'] == {'player': 'ann', 'x': 3, 'seq': 1}
    assert reply['pid'] == worker
    assert isinstance(reply['server_time'], float)
    assert json.loads(await udp_ask(udp, b'not json'))['error'].startswith('not JSON')
    assert json.loads(await udp_ask(udp, b'[1, 2]')) == {
        'error': 'expected a JSON object, got list'
    }
    oversized = json.loads(await udp_ask(udp, b'{"x": "' + b'y' * 2000 + b'"}'))
    assert oversized == {'error': 'datagram of 2009 bytes is over the 1024-byte limit'}
    assert json.loads(await udp_ask(udp, b'{"seq": 2}'))['state'] == {'seq': 2}

    # the console shares the worker's loop: it sees the open websocket
    async with connect(server.url('/echo', scheme='ws')) as ws:
        await ws.send('hi')
        assert await ws.recv() == 'hi'
        console, greeting = await Console.open(tcp)
        assert greeting == (
            f'aiotao admin console, worker {worker}; commands: help, stats, memory, quit\n'
        )
        assert await console.ask('help') == 'commands: help, stats, memory, quit\n'
        stats = json.loads(await console.ask('stats'))
        assert stats['pid'] == worker
        assert stats['websockets'] == 1
        assert stats['uptime'] >= 0
    assert await console.ask('reboot') == (
        "error: unknown command 'reboot'; commands: help, stats, memory, quit\n"
    )
    assert await console.ask('x' * 500) == 'error: line over 100 bytes; closing\n'
    assert await console.line() == ''  # closed
    console.close()
    console, _ = await Console.open(tcp)  # still serving
    assert json.loads(await console.ask('stats'))['websockets'] == 0
    assert await console.ask('quit') == 'bye\n'
    assert await console.line() == ''
    console.close()
    assert server.stop() == 0


@pytest.mark.timeout(60)
@pytest.mark.parametrize('sig', [signal.SIGTERM, signal.SIGINT])
async def test_stopping_closes_the_servers_and_frees_the_ports(
    gunicorn: ServerFactory, tmp_path: Path, sig: signal.Signals
) -> None:
    udp, tcp = free_port(), free_port()
    server = start(gunicorn, write_ini(tmp_path, udp, tcp), '--graceful-timeout', '20')
    console, _ = await Console.open(tcp)  # idle at the prompt
    loop = asyncio.get_running_loop()
    started = loop.time()
    server.send_signal(sig)
    # an idle console connection is closed at once, not after graceful_timeout
    assert await console.line() == ''
    assert loop.time() - started < 5
    console.close()
    code = await asyncio.to_thread(server.wait, 15)
    assert code == 0
    assert port_is_free(tcp)
    assert port_is_free(udp, socket.SOCK_DGRAM)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ('entry', 'message'),
    [
        (
            '[aiotao.server:broken]\nkind = sctp\nport = 7\n',
            "ConfigurationError: [aiotao.server:broken] kind = 'sctp': expected tcp or udp",
        ),
        (
            '[aiotao.server:typo]\nkind = udp\nport = 7\n'
            'protocol = aiotao_demo.game_echo:GameStateEko\n',
            'ConfigurationError: [aiotao.server:typo] protocol = '
            'aiotao_demo.game_echo:GameStateEko: cannot import it',
        ),
    ],
)
async def test_a_bad_entry_stops_startup_with_its_error(
    gunicorn: ServerFactory, tmp_path: Path, entry: str, message: str
) -> None:
    ini = write_ini(tmp_path, free_port(), free_port(), extra=entry)
    server = gunicorn(['-k', WORKER, '--paste', str(ini)], ready_path=None)
    code = await asyncio.to_thread(server.wait, 30)
    assert code != 0  # gunicorn halts instead of respawning the worker
    log = server.log()
    assert message in log
    assert 'Worker failed to boot' in log


@pytest.mark.timeout(60)
async def test_a_taken_port_stops_startup_naming_the_section(
    gunicorn: ServerFactory, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(('127.0.0.1', 0))
        taken.listen()
        ini = write_ini(tmp_path, free_port(), taken.getsockname()[1])
        server = gunicorn(['-k', WORKER, '--paste', str(ini)], ready_path=None)
        code = await asyncio.to_thread(server.wait, 30)
    assert code != 0
    assert 'ServerStartError: [aiotao.server:admin]: cannot listen on 127.0.0.1:' in (
        server.log()
    )


@pytest.mark.timeout(60)
async def test_every_worker_serves_the_shared_ports(
    gunicorn: ServerFactory, tmp_path: Path
) -> None:
    udp, tcp = free_port(), free_port()
    server = start(gunicorn, write_ini(tmp_path, udp, tcp), '--workers', '2')
    server.wait_for_log(r'(?s)serving <Pyramid.*serving <Pyramid')
    workers = set(server.worker_pids())
    assert len(workers) == 2
    # the kernel spreads clients (by their address) among the workers
    udp_pids = {json.loads(await udp_ask(udp, b'{}'))['pid'] for _ in range(24)}
    tcp_pids = set()
    for _ in range(24):
        console, greeting = await Console.open(tcp)
        tcp_pids.add(int(greeting.split('worker ')[1].split(';')[0]))
        console.close()
    assert udp_pids == workers
    assert tcp_pids == workers
    assert server.stop() == 0


def test_paste_deploy_loads_the_app_of_an_ini_with_server_sections(
    tmp_path: Path,
) -> None:
    """PasteDeploy's loadapp and loadserver read only their own sections."""
    ini = write_ini(tmp_path, free_port(), free_port(), http=free_port())
    script = (
        'from paste.deploy import loadapp, loadserver\n'
        f'app = loadapp("config:{ini}")\n'
        f'server = loadserver("config:{ini}")\n'
        'print(type(app).__name__, callable(server))\n'
    )
    result = subprocess.run(
        [sys.executable, '-c', script],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO_ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == 'Router True'


@pytest.mark.timeout(60)
async def test_pserve_serves_the_app_and_the_servers(
    server_process: ServerFactory, tmp_path: Path
) -> None:
    udp, tcp, http = free_port(), free_port(), free_port()
    ini = write_ini(tmp_path, udp, tcp, http=http)
    server = server_process(
        [program('pserve', 'pyramid'), str(ini)],
        port=http,
        cwd=tmp_path,
        env={'XDG_RUNTIME_DIR': str(tmp_path)},
        ready_path='/hello',
    )
    reply: dict[str, Any] = json.loads(await udp_ask(udp, b'{"seq": 1}'))
    assert reply['state'] == {'seq': 1}
    console, greeting = await Console.open(tcp)
    assert greeting.startswith('aiotao admin console')
    console.close()
    assert server.stop() == 0
