"""Admission control under a real gunicorn master: connections and loop lag.

A worker at gunicorn's ``worker_connections`` refuses the next connection
with a 503 (and Retry-After), and serves again once one closes.  A worker
whose loop is stalled (a view that blocks it) refuses new websockets with
1013 and new requests with 503 while its players keep playing, and admits
again once the stall is over.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
from pathlib import Path
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.harness.gunicorn import ServerFactory, ServerProcess

WORKER = 'aiotao.serving.gunicorn.Worker'


def serve(
    gunicorn: ServerFactory, directory: Path, *args: str, **settings: str
) -> ServerProcess:
    ini = directory / 'admission.ini'
    lines = ['[app:main]', 'use = call:tests.pkgs.realtimeapp:main']
    lines += [f'{key} = {value}' for key, value in settings.items()]
    ini.write_text('\n'.join(lines) + '\n')
    return gunicorn(
        ['--paste', str(ini), '-k', WORKER, '-w', '1', *args], ready_path='/hello'
    )


def get(
    server: ServerProcess, path: str, timeout: float = 10
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection('127.0.0.1', server.port, timeout=timeout)
    try:
        connection.request('GET', path)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


async def player(server: ServerProcess) -> Any:
    ws = await websockets.connect(server.url('/socket', scheme='ws'), open_timeout=10)
    json.loads(await ws.recv())  # hello
    return ws


async def admitted(server: ServerProcess, within: float = 5.0) -> Any:
    """A new player, once the worker has room (a connection just closed by
    a client is counted until the worker has seen it close)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            return await player(server)
        except InvalidStatus as refused:
            assert refused.response.status_code == 503
            assert asyncio.get_running_loop().time() < deadline, 'never admitted'
            await asyncio.sleep(0.05)


async def plays(ws: Any, move: str = 'move') -> bool:
    await ws.send(move)
    async with asyncio.timeout(10):
        return bool(await ws.recv() == move)


@pytest.mark.timeout(60)
async def test_the_connection_past_worker_connections_is_refused_cleanly(
    gunicorn: ServerFactory, tmp_path: Path
) -> None:
    server = serve(gunicorn, tmp_path, '--worker-connections', '3')
    players = [await player(server) for _ in range(3)]
    try:
        # the fourth connection: an HTTP request, then a websocket handshake
        status, headers, body = await asyncio.to_thread(get, server, '/hello')
        assert status == 503 and headers['Retry-After'] == '1'
        assert b'worker_connections' in body
        with pytest.raises(InvalidStatus) as refused:
            await player(server)
        assert refused.value.response.status_code == 503
        # the three keep playing
        for ws in players:
            assert await plays(ws)
        # one leaves: its place is free again, once the worker saw it go
        await players.pop().close()
        newcomer = await admitted(server)
        players.append(newcomer)
        assert await plays(newcomer)
        status, _, _ = await asyncio.to_thread(get, server, '/metrics')
        assert status == 503  # full again: four would be one too many
    finally:
        for ws in players:
            await ws.close()
    assert 'Traceback' not in server.log()


@pytest.mark.timeout(60)
async def test_a_stalled_loop_refuses_newcomers_and_keeps_its_players(
    gunicorn: ServerFactory, tmp_path: Path
) -> None:
    server = serve(gunicorn, tmp_path, **{'aiotao.admission.max_loop_lag': '0.3'})
    existing = await player(server)
    assert await plays(existing)
    stall_done = threading.Event()

    def stall() -> None:
        try:
            assert get(server, '/stall?seconds=2')[0] == 200
        finally:
            stall_done.set()

    stalling = asyncio.ensure_future(asyncio.to_thread(stall))
    await asyncio.sleep(0.4)  # the loop is blocked now
    # during the stall: a move of the existing player, a new player and a
    # new request all wait; once the loop runs again the move is played,
    # the newcomers are refused
    move = asyncio.ensure_future(plays(existing, 'during the stall'))
    newcomer = asyncio.ensure_future(player(server))
    request = asyncio.ensure_future(asyncio.to_thread(get, server, '/hello'))
    await stalling
    status, headers, _ = await request
    assert status == 503 and headers['Retry-After'] == '1'
    with pytest.raises(ConnectionClosed) as closed:
        ws = await newcomer
        await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
    assert await move

    # the stall is over: the worker admits again
    await asyncio.sleep(0.5)
    status, _, body = await asyncio.to_thread(get, server, '/hello')
    assert (status, body) == (200, b'hello')
    later = await player(server)
    assert await plays(later) and await plays(existing)
    status, _, body = await asyncio.to_thread(get, server, '/metrics')
    metrics = json.loads(body)
    assert metrics['loop_lag_worst_ms'] >= 1000
    assert metrics['loop_lag_ms'] < 200
    assert metrics['refused_requests'] >= 1 and metrics['refused_websockets'] >= 1
    await later.close()
    await existing.close()
    assert 'Traceback' not in server.log()
