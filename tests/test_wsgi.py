"""The same app under plain WSGI servers: async views still work."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyramid.config import Configurator
from pyramid.threadlocal import get_current_request
from webtest import TestApp


async def hello(request: Any) -> dict[str, Any]:
    await asyncio.sleep(0.01)
    return {
        'hello': request.matchdict['name'],
        'current_ok': get_current_request() is request,
    }


def legacy(request: Any) -> str:
    return 'legacy sync view'


class Broken(Exception):
    pass


async def broken(request: Any) -> str:
    await asyncio.sleep(0)
    raise Broken('after await')


async def broken_view(exc: Broken, request: Any) -> Any:
    await asyncio.sleep(0)
    request.response.status_int = 503
    request.response.text = f'handled {exc}'
    return request.response


def make_wsgi_app() -> Any:
    config = Configurator(settings={})
    config.include('aiotao')
    config.add_route('hello', '/hello/{name}')
    config.add_route('legacy', '/legacy')
    config.add_route('broken', '/broken')
    config.add_view(hello, route_name='hello', renderer='json')
    config.add_view(legacy, route_name='legacy', renderer='string')
    config.add_view(broken, route_name='broken')
    config.add_exception_view(broken_view, context=Broken)
    return config.make_wsgi_app()


def test_webtest_drives_async_views() -> None:
    app = TestApp(make_wsgi_app())
    assert app.get('/hello/ada').json == {'hello': 'ada', 'current_ok': True}
    assert app.get('/legacy').text == 'legacy sync view'
    assert app.get('/broken', status=503).text == 'handled after await'
    app.get('/missing', status=404)


async def test_wsgi_app_called_from_inside_a_running_loop() -> None:
    """Sync code in an async test calling the WSGI app must not deadlock."""
    app = TestApp(make_wsgi_app())
    assert app.get('/hello/bo').json['hello'] == 'bo'


@pytest.fixture
def waitress_url() -> Iterator[str]:
    from waitress.server import create_server

    server = create_server(make_wsgi_app(), host='127.0.0.1', port=0, threads=4)
    port = server.socket.getsockname()[1]  # type: ignore[union-attr]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{port}'
    finally:
        # Closed from its own loop's thread: closing its sockets from this
        # one races the loop's select() (EBADF in the server's thread).
        # With nothing left in its map, the loop ends.
        def close_everything() -> None:
            for dispatcher in list(server._map.values()):  # type: ignore[union-attr]
                dispatcher.close()

        server.trigger.pull_trigger(close_everything)  # type: ignore[union-attr]
        thread.join(timeout=5)
        assert not thread.is_alive()
        server.task_dispatcher.shutdown()  # type: ignore[union-attr]


def test_waitress_serves_async_views_concurrently(waitress_url: str) -> None:
    results: list[str] = []

    def fetch(name: str) -> None:
        with urllib.request.urlopen(
            f'{waitress_url}/hello/{name}', timeout=10
        ) as response:
            results.append(response.read().decode())

    threads = [threading.Thread(target=fetch, args=(f'n{i}',)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert sorted(results) == sorted(
        f'{{"hello": "n{i}", "current_ok": true}}' for i in range(12)
    )


def paste_app(global_config: dict[str, str], **settings: str) -> Any:
    """PasteDeploy factory for the pserve test."""
    return make_wsgi_app()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


@pytest.mark.timeout(60)
def test_pserve_with_waitress_serves_async_views(tmp_path: Any) -> None:
    port = free_port()
    ini = tmp_path / 'waitress.ini'
    ini.write_text(
        '[app:main]\n'
        'use = call:tests.test_wsgi:paste_app\n\n'
        '[server:main]\n'
        'use = egg:waitress#main\n'
        f'listen = 127.0.0.1:{port}\n'
    )
    process = subprocess.Popen(
        [sys.executable, '-m', 'pyramid.scripts.pserve', str(ini)],
        cwd=Path(__file__).parent.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(
                    f'http://127.0.0.1:{port}/hello/pserve', timeout=5
                ) as response:
                    body = response.read().decode()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stdout.read().decode() if process.stdout else ''
                    pytest.fail(f'pserve did not serve: {output}')
                time.sleep(0.1)
        assert body == '{"hello": "pserve", "current_ok": true}'
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()
