"""aiotao.serving.asgi: the application under ASGI servers.

In-process tests call the ASGI application directly, the way a server does
(``await app(scope, receive, send)``); the same application then runs under
real servers: uvicorn, hypercorn and gunicorn's own ``-k asgi`` worker.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import websockets
import yarl
from websockets.asyncio.client import connect

from aiotao.serving.asgi.adapter import AsgiApplication, head_from_scope, make_asgi_app
from tests.harness.gunicorn import (  # noqa: F401  (fixtures)
    ServerFactory,
    ServerProcess,
    free_port,
    gunicorn,
    program,
    server_process,
)
from tests.pkgs.servingapp import main as servingapp
from tests.pkgs.servingapp import views

LIMIT = 1024

# -- driving the application in-process --------------------------------------


class Client:
    """Plays the server's side of the ASGI interface for one scope."""

    def __init__(self, app: AsgiApplication, scope: dict[str, Any]) -> None:
        self.app = app
        self.scope = {'asgi': {'version': '3.0'}, **scope}
        self.incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        return await self.incoming.get()

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    def start(self) -> asyncio.Task[None]:
        return asyncio.ensure_future(self.app(self.scope, self.receive, self.send))

    async def run(self, *messages: dict[str, Any]) -> list[dict[str, Any]]:
        for message in messages:
            self.incoming.put_nowait(message)
        await asyncio.wait_for(self.start(), 10)
        return self.sent


def http_scope(
    path: str = '/hello',
    method: str = 'GET',
    headers: list[tuple[bytes, bytes]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    raw_path, _, query = path.encode().partition(b'?')
    return {
        'type': 'http',
        'http_version': '1.1',
        'method': method,
        'scheme': 'http',
        'path': path.partition('?')[0],
        'raw_path': raw_path,
        'query_string': query,
        'root_path': '',
        'headers': [(b'host', b'testserver'), *(headers or [])],
        'client': ('127.0.0.1', 50000),
        'server': ('127.0.0.1', 8000),
        **extra,
    }


def body_message(data: bytes = b'', more: bool = False) -> dict[str, Any]:
    return {'type': 'http.request', 'body': data, 'more_body': more}


def response_of(
    sent: list[dict[str, Any]],
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    start, *bodies = sent
    assert start['type'] == 'http.response.start'
    assert all(message['type'] == 'http.response.body' for message in bodies)
    assert bodies[-1]['more_body'] is False
    return start['status'], start['headers'], b''.join(m['body'] for m in bodies)


@pytest.fixture
def events_file(tmp_path: Path) -> Path:
    return tmp_path / 'events.txt'


@pytest.fixture
def asgi_app(events_file: Path, tmp_path: Path) -> AsgiApplication:
    return make_asgi_app(
        servingapp(
            {},
            **{
                'aiotao.max_body_size': str(LIMIT),
                'servingapp.events_file': str(events_file),
                'servingapp.file': __file__,
            },
        )
    )


async def test_a_request_and_its_response(asgi_app: AsgiApplication) -> None:
    status, headers, body = response_of(
        await Client(asgi_app, http_scope()).run(body_message())
    )
    assert (status, body) == (200, b'Hello, world!')
    assert (b'content-length', b'13') in headers


async def test_every_set_cookie_is_sent(asgi_app: AsgiApplication) -> None:
    sent = await Client(asgi_app, http_scope('/cookies')).run(body_message())
    _, headers, _ = response_of(sent)
    cookies = [value for name, value in headers if name == b'set-cookie']
    assert [cookie.split(b';')[0] for cookie in cookies] == [b'first=1', b'second=2']


async def test_head_has_content_length_and_no_body(asgi_app: AsgiApplication) -> None:
    sent = await Client(asgi_app, http_scope(method='HEAD')).run(body_message())
    status, headers, body = response_of(sent)
    assert (status, body) == (200, b'')
    assert (b'content-length', b'13') in headers


async def test_a_streamed_body_reaches_the_view_whole(
    asgi_app: AsgiApplication,
) -> None:
    parts = [b'a' * 300, b'b' * 300, b'c' * 300]
    client = Client(asgi_app, http_scope('/echo-body', 'POST'))
    sent = await client.run(
        *(body_message(p, more=True) for p in parts), body_message()
    )
    _, _, body = response_of(sent)
    assert json.loads(body) == {
        'length': 900,
        'sha256': hashlib.sha256(b''.join(parts)).hexdigest(),
    }


async def test_bodies_over_the_limit_get_413(asgi_app: AsgiApplication) -> None:
    declared = Client(
        asgi_app, http_scope('/echo-body', 'POST', [(b'content-length', b'5000')])
    )
    status, _, body = response_of(await declared.run())  # refused before reading
    assert status == 413
    assert b'The request body is 5000 bytes' in body

    streamed = Client(asgi_app, http_scope('/echo-body', 'POST'))
    chunks = [body_message(b'x' * 600, more=True)] * 3
    status, _, body = response_of(await streamed.run(*chunks, body_message()))
    assert status == 413
    assert b'larger than 1024 bytes' in body and b'aiotao.max_body_size' in body


async def test_a_generated_body_is_sent_chunk_by_chunk(
    asgi_app: AsgiApplication,
) -> None:
    sent = await Client(asgi_app, http_scope('/stream')).run(body_message())
    bodies = [m['body'] for m in sent[1:] if m['body']]
    assert bodies == [b'first chunk\n', *(f'chunk {n}\n'.encode() for n in range(2, 6))]


async def test_root_path_mounts_the_application(asgi_app: AsgiApplication) -> None:
    # uvicorn's convention: the path includes root_path
    scope = http_scope('/api/environ', root_path='/api')
    _, _, body = response_of(await Client(asgi_app, scope).run(body_message()))
    seen = json.loads(body)
    assert (seen['SCRIPT_NAME'], seen['PATH_INFO']) == ('/api', '/environ')
    assert seen['application_url'] == 'http://testserver/api'


def test_the_scope_path_is_requoted_when_raw_path_is_missing() -> None:
    scope = http_scope('/a%2Fb')
    scope['path'], scope['raw_path'] = '/50% off/é', None
    head = head_from_scope(scope)
    assert head.raw_path == b'/50%25%20off/%C3%A9'


async def test_a_disconnect_cancels_the_view_and_finished_callbacks_run(
    asgi_app: AsgiApplication,
) -> None:
    views.EVENTS.clear()
    client = Client(asgi_app, http_scope('/hang?id=asgi'))
    client.incoming.put_nowait(body_message())
    task = client.start()
    while 'started asgi' not in views.EVENTS:
        await asyncio.sleep(0.01)
    client.incoming.put_nowait({'type': 'http.disconnect'})
    await asyncio.wait_for(task, 5)
    assert views.EVENTS == ['started asgi', 'cancelled asgi', 'finished asgi']
    assert client.sent == []  # nobody to answer


async def test_the_server_cancelling_the_app_cancels_the_view(
    asgi_app: AsgiApplication,
) -> None:
    views.EVENTS.clear()
    client = Client(asgi_app, http_scope('/hang?id=server'))
    client.incoming.put_nowait(body_message())
    task = client.start()
    while 'started server' not in views.EVENTS:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert views.EVENTS == ['started server', 'cancelled server', 'finished server']


async def test_lifespan_runs_the_lifecycle_events(
    asgi_app: AsgiApplication, events_file: Path
) -> None:
    client = Client(asgi_app, {'type': 'lifespan'})
    sent = await client.run({'type': 'lifespan.startup'}, {'type': 'lifespan.shutdown'})
    assert [m['type'] for m in sent] == [
        'lifespan.startup.complete',
        'lifespan.shutdown.complete',
    ]
    assert [line.split()[0] for line in events_file.read_text().splitlines()] == [
        'started',
        'stopping',
    ]


async def test_a_failing_startup_is_reported_to_the_server(tmp_path: Path) -> None:
    app = make_asgi_app(
        servingapp(
            {},
            **{
                'servingapp.fail_startup': 'true',
                'servingapp.events_file': str(tmp_path / 'e'),
            },
        )
    )
    sent = await Client(app, {'type': 'lifespan'}).run({'type': 'lifespan.startup'})
    assert sent == [
        {
            'type': 'lifespan.startup.failed',
            'message': 'servingapp: startup failed on purpose',
        }
    ]


async def test_a_plain_wsgi_app_is_served_in_threads() -> None:
    app = make_asgi_app(servingapp.__globals__['plain_wsgi']({}))
    status, _, body = response_of(
        await Client(app, http_scope('/x')).run(body_message())
    )
    assert status == 200
    assert body.startswith(b'asyncio') or not body.startswith(b'MainThread')


# -- under real servers --------------------------------------------------------

SERVERS = ['uvicorn', 'hypercorn', 'gunicorn -k asgi']


@pytest.fixture(params=SERVERS)
def asgi_server(
    request: pytest.FixtureRequest,
    server_process: ServerFactory,  # noqa: F811
    gunicorn: ServerFactory,  # noqa: F811
    tmp_path: Path,
    events_file: Path,
) -> ServerProcess:
    ini = tmp_path / 'app.ini'
    ini.write_text(
        '[app:main]\n'
        'use = call:tests.pkgs.servingapp:main\n'
        f'aiotao.max_body_size = {LIMIT}\n'
        f'servingapp.events_file = {events_file}\n'
        f'servingapp.file = {__file__}\n'
    )
    env = {'AIOTAO_TEST_INI': str(ini)}
    if request.param == 'uvicorn':
        port = free_port()
        argv = [
            program('uvicorn'),
            '--factory',
            'tests.pkgs.servingapp:asgi_app',
            '--host',
            '127.0.0.1',
            '--port',
            str(port),
        ]
        server = server_process(argv, port=port, env=env, ready_path='/hello')
    elif request.param == 'hypercorn':
        port = free_port()
        argv = [
            program('hypercorn'),
            'tests.pkgs.servingapp:asgi_app()',
            '--bind',
            f'127.0.0.1:{port}',
        ]
        server = server_process(argv, port=port, env=env, ready_path='/hello')
    else:
        server = gunicorn(
            ['-k', 'asgi', 'tests.pkgs.servingapp:asgi_app()', '--workers', '1'],
            env=env,
            ready_path='/hello',
        )
    server.kind = request.param  # type: ignore[attr-defined]
    return server


async def test_http_under_a_real_server(asgi_server: ServerProcess) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(asgi_server.url('/hello')) as response:
            assert await response.text() == 'Hello, world!'
        async with session.get(asgi_server.url('/environ/a%2Fb?x=%20y&x')) as response:
            seen = await response.json()
            assert seen['QUERY_STRING'] == 'x=%20y&x'
            assert seen['path_info'] == '/environ/a/b'
        async with session.post(
            asgi_server.url('/echo-body'), data=b'z' * 2000
        ) as response:
            assert response.status == 413
        started = time.monotonic()
        async with session.get(asgi_server.url('/stream?pause=1')) as response:
            assert await response.content.readline() == b'first chunk\n'
            assert time.monotonic() - started < 0.7
            assert (await response.read()).endswith(b'chunk 5\n')


@pytest.mark.timeout(60)
async def test_concurrency_under_a_real_server(asgi_server: ServerProcess) -> None:
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0)
    ) as session:

        async def sleep() -> int:
            async with session.get(asgi_server.url('/sleep?seconds=0.5')) as response:
                await response.read()
                return response.status

        started = time.monotonic()
        statuses = await asyncio.gather(*(sleep() for _ in range(300)))
        elapsed = time.monotonic() - started
    assert statuses == [200] * 300
    assert elapsed < 2.0, f'300 concurrent requests took {elapsed:.2f}s'


async def test_websockets_under_a_real_server(asgi_server: ServerProcess) -> None:
    async with connect(asgi_server.url('/echo', scheme='ws')) as ws:
        await ws.send('over asgi')
        assert await ws.recv() == 'over asgi'
        await ws.send(b'\x00\x01')
        assert await ws.recv() == b'\x00\x01'
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with connect(asgi_server.url('/nowhere', scheme='ws')):
            pass
    # a refused handshake is the pipeline's response where the server offers
    # the ASGI "websocket denial response" extension (uvicorn, hypercorn),
    # else the 403 the ASGI specification prescribes (gunicorn's worker)
    denial_response = asgi_server.kind in ('uvicorn', 'hypercorn')  # type: ignore[attr-defined]
    expected = 404 if denial_response else 403
    assert refused.value.response.status_code == expected


@pytest.mark.timeout(60)
async def test_lifespan_under_a_real_server(
    asgi_server: ServerProcess, events_file: Path
) -> None:
    assert [line.split()[0] for line in events_file.read_text().splitlines()] == [
        'started'
    ]
    asgi_server.send_signal(signal.SIGTERM)
    asgi_server.wait(20)
    assert [line.split()[0] for line in events_file.read_text().splitlines()] == [
        'started',
        'stopping',
    ]


async def test_uvicorn_root_path(
    server_process: ServerFactory,  # noqa: F811
    tmp_path: Path,
) -> None:
    ini = tmp_path / 'app.ini'
    ini.write_text('[app:main]\nuse = call:tests.pkgs.servingapp:main\n')
    port = free_port()
    server = server_process(
        [
            program('uvicorn'),
            '--factory',
            'tests.pkgs.servingapp:asgi_app',
            '--port',
            str(port),
            '--root-path',
            '/api',
        ],
        port=port,
        env={'AIOTAO_TEST_INI': str(ini)},
        ready_path='/hello',
    )
    async with aiohttp.ClientSession() as session:
        async with session.get(server.url('/environ')) as response:
            seen = await response.json()
    assert (seen['SCRIPT_NAME'], seen['PATH_INFO']) == ('/api', '/environ')
    assert seen['application_url'] == f'http://127.0.0.1:{port}/api'


async def test_a_stalled_body_gets_408() -> None:
    app = make_asgi_app(servingapp({}, **{'aiotao.body_timeout': '1'}))
    client = Client(app, http_scope('/echo-body', 'POST'))
    client.incoming.put_nowait(body_message(b'abc', more=True))  # then nothing
    status, _, body = response_of(await client.run())
    assert status == 408
    assert b'(setting aiotao.body_timeout)' in body


async def test_a_path_that_is_not_utf8_gets_400_under_a_real_server(
    asgi_server: ServerProcess,
) -> None:
    async with aiohttp.ClientSession() as session:
        for path in ('/hello%ff', '/environ/%c0%ae%c0%ae/x'):
            url = yarl.URL(asgi_server.url(path), encoded=True)
            async with session.get(url) as response:
                assert response.status == 400, path
                assert 'not UTF-8 once percent-decoded' in await response.text()
        async with session.get(asgi_server.url('/hello')) as response:
            assert response.status == 200
    assert 'Traceback' not in asgi_server.log()
