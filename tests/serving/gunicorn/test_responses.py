"""What goes over the wire through the worker: environ in, response out."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.harness.gunicorn import ServerProcess


async def get_json(server: ServerProcess, path: str, **kwargs: Any) -> Any:
    async with aiohttp.ClientSession() as session:
        async with session.get(server.url(path), **kwargs) as response:
            assert response.status == 200
            return await response.json()


def raw(server: ServerProcess, data: bytes, until: bytes) -> bytes:
    """Send raw bytes and read until ``until`` has been received."""
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(data)
        received = b''
        while until not in received:
            chunk = sock.recv(65536)
            assert chunk, f'connection closed; got {received!r}'
            received += chunk
        return received


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    path = tmp_path / 'big.bin'
    path.write_bytes(os.urandom(1024 * 1024 + 123))  # several FileResponse blocks
    return path


@pytest.fixture
def server(serve: Callable[..., ServerProcess], big_file: Path) -> ServerProcess:
    return serve(**{'servingapp.file': big_file})


async def test_a_generated_body_is_streamed_as_it_is_produced(
    server: ServerProcess,
) -> None:
    async with aiohttp.ClientSession() as session:
        started = time.monotonic()
        async with session.get(server.url('/stream?pause=1')) as response:
            assert response.headers['Transfer-Encoding'] == 'chunked'
            first = await response.content.readline()
            first_at = time.monotonic() - started
            rest = await response.content.read()
            done_at = time.monotonic() - started
    assert first == b'first chunk\n'
    assert rest == b''.join(f'chunk {n}\n'.encode() for n in range(2, 6))
    # the first chunk was sent before the generator went on
    assert first_at < 0.7 < 1.0 <= done_at


def test_a_streamed_body_to_http_1_0_keep_alive_ends_with_the_connection(
    server: ServerProcess,
) -> None:
    # HTTP/1.0 has no chunked encoding: a body of unknown length can only
    # end with the connection, or the next response would be read as part
    # of it (and a proxy could be fed a response of the attacker's making)
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(
            b'GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'
            b'GET /hello HTTP/1.0\r\n\r\n'
        )
        received = b''
        while chunk := sock.recv(65536):  # until the server closes: a timeout fails
            received += chunk
    head, _, body = received.partition(b'\r\n\r\n')
    assert head.startswith(b'HTTP/1.0 200 OK'), head
    headers = head.lower().split(b'\r\n')[1:]
    assert not any(
        h.startswith((b'content-length:', b'transfer-encoding:')) for h in headers
    )
    assert b'connection: keep-alive' not in headers
    assert body == b'first chunk\n' + b''.join(b'chunk %d\n' % n for n in range(2, 6))


def test_http_1_0_keep_alive_goes_on_when_the_length_is_known(
    server: ServerProcess,
) -> None:
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(
            b'GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'
            b'GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'
        )
        received = b''
        while received.count(b'Hello, world!') < 2:
            chunk = sock.recv(65536)
            assert chunk, received
            received += chunk
    assert received.count(b'HTTP/1.0 200 OK') == 2


def test_the_host_of_an_absolute_form_target_is_the_requests_host(
    server: ServerProcess,
) -> None:
    # RFC 9112 section 3.2.2: the target's authority, not the Host header
    answer = raw(
        server,
        b'GET http://example.org:8080/environ HTTP/1.1\r\n'
        b'Host: attacker.example\r\nConnection: close\r\n\r\n',
        until=b'}',
    )
    seen = json.loads(answer.partition(b'\r\n\r\n')[2])
    assert seen['HTTP_HOST'] == 'example.org:8080'
    assert (seen['SERVER_NAME'], seen['SERVER_PORT']) == ('example.org', '8080')
    assert seen['url'] == 'http://example.org:8080/environ'


async def test_every_set_cookie_header_is_sent(server: ServerProcess) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(server.url('/cookies')) as response:
            cookies = response.headers.getall('Set-Cookie')
    assert [cookie.split(';')[0] for cookie in cookies] == ['first=1', 'second=2']
    assert 'HttpOnly' in cookies[1]


def test_head_sends_headers_with_content_length_and_no_body(
    server: ServerProcess,
) -> None:
    # HEAD then GET on one keep-alive connection: a body after the HEAD
    # response would be read as the start of the next response
    received = raw(
        server,
        b'HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n',
        until=b'Hello, world!',
    )
    head, get = received.split(b'HTTP/1.1 200 OK')[1:]
    assert b'Content-Length: 13' in head
    assert head.endswith(b'\r\n\r\n')
    assert get.endswith(b'\r\n\r\nHello, world!')


async def test_file_response_is_streamed_whole(
    server: ServerProcess, big_file: Path
) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(server.url('/file')) as response:
            assert response.status == 200
            assert response.headers['Content-Length'] == str(big_file.stat().st_size)
            body = await response.read()
        async with session.head(server.url('/file')) as response:
            assert response.headers['Content-Length'] == str(big_file.stat().st_size)
            assert await response.read() == b''
    assert (
        hashlib.sha256(body).digest() == hashlib.sha256(big_file.read_bytes()).digest()
    )


def test_path_and_query_string_reach_the_app_byte_exact(server: ServerProcess) -> None:
    received = raw(
        server,
        b'GET /environ/caf%C3%A9%2Fx?a=%20b&c=d%2Fe&x&%E2%9C%93=1&a=2 HTTP/1.1\r\n'
        b'Host: t\r\nConnection: close\r\n\r\n',
        until=b'}',
    )
    seen = json.loads(received.split(b'\r\n\r\n', 1)[1])
    assert seen['QUERY_STRING'] == 'a=%20b&c=d%2Fe&x&%E2%9C%93=1&a=2'
    assert seen['RAW_URI'] == '/environ/caf%C3%A9%2Fx?a=%20b&c=d%2Fe&x&%E2%9C%93=1&a=2'
    assert seen['PATH_INFO'] == '/environ/café/x'.encode().decode('latin-1')
    assert seen['path_info'] == '/environ/café/x'
    assert seen['SERVER_PROTOCOL'] == 'HTTP/1.1'


async def test_repeated_headers_are_joined_and_underscored_names_dropped(
    server: ServerProcess,
) -> None:
    received = raw(
        server,
        b'GET /environ HTTP/1.1\r\nHost: t\r\nX-Multi: a\r\nX_Multi: spoofed\r\n'
        b'X-Multi: b\r\nCookie: a=1\r\nCookie: b=2\r\nConnection: close\r\n\r\n',
        until=b'}',
    )
    seen = json.loads(received.split(b'\r\n\r\n', 1)[1])
    assert seen['HTTP_X_MULTI'] == 'a, b'
    assert seen['HTTP_COOKIE'] == 'a=1; b=2'


FORWARDED = {
    'X-Forwarded-For': '203.0.113.7, 127.0.0.1',
    'X-Forwarded-Proto': 'https',
    'X-Forwarded-Host': 'example.org',
}


async def test_forwarded_headers_from_a_trusted_proxy_are_honoured(
    server: ServerProcess,
) -> None:
    # gunicorn's default forwarded_allow_ips trusts 127.0.0.1, the test client
    seen = await get_json(server, '/environ', headers=FORWARDED)
    assert seen['REMOTE_ADDR'] == '203.0.113.7'
    assert seen['wsgi.url_scheme'] == 'https'
    assert seen['url'] == 'https://example.org/environ'


async def test_forwarded_headers_from_an_untrusted_peer_are_ignored(
    serve: Callable[..., ServerProcess],
) -> None:
    server = serve('--forwarded-allow-ips', '10.0.0.1')
    seen = await get_json(server, '/environ', headers=FORWARDED)
    assert seen['REMOTE_ADDR'] == '127.0.0.1'
    assert seen['wsgi.url_scheme'] == 'http'
    assert seen['url'] == f'http://127.0.0.1:{server.port}/environ'


def test_the_access_log_uses_gunicorns_format(server: ServerProcess) -> None:
    raw(
        server,
        b'GET /hello?x=1 HTTP/1.1\r\nHost: t\r\nUser-Agent: probe/1\r\n\r\n',
        b'!',
    )
    server.wait_for_log(
        r'127\.0\.0\.1 - - \[.*\] "GET /hello\?x=1 HTTP/1\.1" 200 13 "-" "probe/1"'
    )


@pytest.mark.timeout(60)
async def test_a_plain_wsgi_app_runs_in_the_thread_pool(
    serve: Callable[..., ServerProcess],
) -> None:
    server = serve(
        factory='plain_wsgi', ready_path='/', **{'aiotao.thread_pool_size': 8}
    )
    server.wait_for_log(r'serving <ThreadedWSGIApplication')
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def block() -> str:
            async with session.get(server.url('/block?seconds=1')) as response:
                assert response.status == 200
                return await response.text()

        started = time.monotonic()
        bodies = await asyncio.gather(*(block() for _ in range(8)))
        elapsed = time.monotonic() - started
    assert all(body.startswith('aiotao-wsgi') for body in bodies), bodies
    assert all(body.endswith(' /block') for body in bodies)
    assert elapsed < 1.9, f'eight blocking requests took {elapsed:.2f}s on 8 threads'


@pytest.mark.parametrize(
    'args',
    [
        ['--worker-class', 'aiotao.serving.gunicorn.worker.AsyncGunicornUVLoopWorker'],
        ['--asgi-loop', 'uvloop'],
    ],
    ids=['uvloop worker class', 'asgi_loop setting'],
)
async def test_uvloop(serve: Callable[..., ServerProcess], args: list[str]) -> None:
    # without uvloop the worker fails to boot, naming the package to install
    server = serve(*args)
    server.wait_for_log(r'aiotao worker .* uvloop loop')
    assert await get_json(server, '/sleep?seconds=0.01') == {'slept': 0.01}


async def test_the_default_loop_is_asyncio(serve: Callable[..., ServerProcess]) -> None:
    server = serve()
    server.wait_for_log(r'aiotao worker .* asyncio loop')


@pytest.mark.timeout(60)
async def test_https(serve: Callable[..., ServerProcess], tmp_path: Path) -> None:
    openssl = shutil.which('openssl')
    assert openssl, (
        'this test makes its certificate with openssl: apt-get install openssl'
    )
    subprocess.run(
        [openssl, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
         '-subj', '/CN=127.0.0.1', '-keyout', str(tmp_path / 'key.pem'),
         '-out', str(tmp_path / 'cert.pem')],
        check=True,
        capture_output=True,
    )  # fmt: skip
    server = serve(
        '--certfile', str(tmp_path / 'cert.pem'), '--keyfile', str(tmp_path / 'key.pem'),
        ready_path=None,
    )  # fmt: skip
    server.wait_for_log(r'aiotao worker .* serving .* on https://')
    async with aiohttp.ClientSession() as session:
        async with session.get(
            server.url('/environ', scheme='https'), ssl=False
        ) as response:
            seen = await response.json()
    assert seen['wsgi.url_scheme'] == 'https'
    assert seen['url'].startswith('https://')


async def test_a_unix_socket_next_to_tcp(
    serve: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    path = tmp_path / 'aiotao.sock'
    server = serve('--bind', f'unix:{path}')
    connector = aiohttp.UnixConnector(path=str(path))
    async with aiohttp.ClientSession(connector=connector) as session:
        # a UNIX socket peer is trusted, as in gunicorn: only local processes
        # reach it (a local proxy, typically)
        headers = {'X-Forwarded-For': '203.0.113.7', 'Host': 'example.org'}
        async with session.get('http://unix/environ', headers=headers) as response:
            seen = await response.json()
    assert seen['REMOTE_ADDR'] == '203.0.113.7'
    assert seen['url'] == 'http://example.org/environ'
    # and TCP still works
    assert (await get_json(server, '/environ'))['REMOTE_ADDR'] == '127.0.0.1'
