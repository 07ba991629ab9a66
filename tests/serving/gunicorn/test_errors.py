"""Bad requests and failing views get a clear answer; the worker keeps serving.

Each case is sent on a raw socket, as a broken client would, and is followed
by a good request that must be served by the same worker process.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import select
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.harness.gunicorn import ServerProcess

LIMIT = 1024


def exchange(server: ServerProcess, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes; read one response: status, headers, body."""
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(data)
        stream = sock.makefile('rb')
        status_line = stream.readline()
        assert status_line, 'the server closed the connection without answering'
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while (line := stream.readline().rstrip(b'\r\n')) != b'':
            name, _, value = line.decode('latin-1').partition(':')
            headers[name.strip().lower()] = value.strip()
        body = stream.read(int(headers.get('content-length', '0')))
        return status, headers, body


def still_serving(server: ServerProcess, worker: int) -> None:
    status, _, body = exchange(
        server, b'GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'
    )
    assert (status, body) == (200, b'Hello, world!')
    assert server.worker_pids() == [worker], 'the worker was replaced'


@pytest.fixture
def server(serve: Callable[..., ServerProcess]) -> ServerProcess:
    return serve(**{'aiotao.max_body_size': LIMIT})


BAD_REQUESTS = {
    'tls on the http port': (
        b'\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03' + bytes(40),
        400,
        b'HTTPS traffic on an HTTP port',
    ),
    'garbage': (b'\x00\x01\x02hello there\r\n\r\n', 400, b'Invalid method'),
    'bad http version': (
        b'GET /hello HTTP/9.9\r\nHost: t\r\n\r\n',
        400,
        b'Invalid HTTP version',
    ),
    'huge header': (
        b'GET /hello HTTP/1.1\r\nHost: t\r\nX-Big: ' + b'a' * 20000 + b'\r\n\r\n',
        400,
        b'Got more than 8190 bytes',
    ),
    'request line over limit_request_line': (
        b'GET /' + b'a' * 5000 + b' HTTP/1.1\r\nHost: t\r\n\r\n',
        400,
        b'Got more than 4094 bytes',
    ),
    'content-length not a number': (
        b'POST /echo-body HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n',
        400,
        b'Content-Length',
    ),
    'bad port in host': (
        b'GET /environ HTTP/1.1\r\nHost: t:http\r\n\r\n',
        400,
        b"the Host header 't:http' has an invalid port",
    ),
}


@pytest.mark.parametrize('case', list(BAD_REQUESTS))
def test_malformed_requests_get_400_and_the_worker_goes_on(
    server: ServerProcess, case: str
) -> None:
    data, expected_status, expected_message = BAD_REQUESTS[case]
    [worker] = server.worker_pids()
    status, _, body = exchange(server, data)
    assert status == expected_status
    assert expected_message in body
    still_serving(server, worker)


BODY_TOO_LARGE = b'setting aiotao.max_body_size'


def test_a_declared_body_over_the_limit_gets_413_before_it_is_read(
    server: ServerProcess,
) -> None:
    [worker] = server.worker_pids()
    status, headers, body = exchange(
        server,
        b'POST /echo-body HTTP/1.1\r\nHost: t\r\nContent-Length: 2000\r\n'
        b'Expect: 100-continue\r\n\r\n',
    )
    # refused from the headers: no "100 Continue", so the client sends nothing
    assert status == 413
    assert b'The request body is 2000 bytes' in body and BODY_TOO_LARGE in body
    assert headers['connection'] == 'close'
    still_serving(server, worker)


def test_a_chunked_body_growing_over_the_limit_gets_413(server: ServerProcess) -> None:
    [worker] = server.worker_pids()
    chunk = b'x' * 1000
    status, _, body = exchange(
        server,
        b'POST /echo-body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n'
        + b'3e8\r\n' + chunk + b'\r\n' + b'3e8\r\n' + chunk + b'\r\n0\r\n\r\n',
    )  # fmt: skip
    assert status == 413
    assert b'larger than 1024 bytes' in body and BODY_TOO_LARGE in body
    still_serving(server, worker)


def test_bodies_within_the_limit_reach_the_view_whole(server: ServerProcess) -> None:
    data = bytes(range(256)) * 4  # exactly the limit
    for framing in (
        b'Content-Length: 1024\r\n\r\n' + data,
        b'Transfer-Encoding: chunked\r\n\r\n200\r\n'
        + data[:512] + b'\r\n200\r\n' + data[512:] + b'\r\n0\r\n\r\n',
    ):  # fmt: skip
        status, _, body = exchange(
            server, b'POST /echo-body HTTP/1.1\r\nHost: t\r\n' + framing
        )
        assert status == 200
        assert json.loads(body) == {
            'length': 1024,
            'sha256': hashlib.sha256(data).hexdigest(),
        }


def test_expect_100_continue_is_answered_before_the_body(server: ServerProcess) -> None:
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(
            b'POST /echo-body HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n'
            b'Expect: 100-continue\r\n\r\n'
        )
        assert sock.recv(100) == b'HTTP/1.1 100 Continue\r\n\r\n'
        sock.sendall(b'data')
        assert sock.recv(100).startswith(b'HTTP/1.1 200 OK')


def test_a_view_raising_gets_500_and_the_worker_goes_on(server: ServerProcess) -> None:
    [worker] = server.worker_pids()
    status, _, body = exchange(server, b'GET /boom HTTP/1.1\r\nHost: t\r\n\r\n')
    assert status == 500
    assert body == (
        b'500 Internal Server Error\n\n'
        b'The server encountered an unexpected error; it has been logged.\n'
    )
    assert b'boom' not in body  # no details leak to the client
    log = server.wait_for_log(r'Error handling request GET /boom[\s\S]*RuntimeError')
    assert 'boom: an unhandled error in a view' in log.string
    still_serving(server, worker)


def test_a_path_outside_script_name_gets_404(
    serve: Callable[..., ServerProcess],
) -> None:
    server = serve(ready_path='/app/hello', **{'aiotao.script_name': '/app'})
    [worker] = server.worker_pids()
    status, _, body = exchange(server, b'GET /elsewhere HTTP/1.1\r\nHost: t\r\n\r\n')
    assert status == 404
    assert b"mounted at '/app' (setting aiotao.script_name)" in body
    status, _, body = exchange(
        server, b'GET /app/environ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'
    )
    assert status == 200
    assert b'"SCRIPT_NAME": "/app", "PATH_INFO": "/environ"' in body
    assert server.worker_pids() == [worker]


@pytest.mark.parametrize(
    'sent',
    [
        # a client that announced 10 bytes and stopped after 3
        b'Content-Length: 10\r\n\r\nabc',
        # a chunked body whose framing breaks after the first chunk (aiohttp's
        # C parser then stops feeding the request without telling it)
        b'Transfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n',
    ],
    ids=['stalled', 'broken chunk'],
)
def test_a_body_that_stops_arriving_gets_408(
    serve: Callable[..., ServerProcess], sent: bytes
) -> None:
    server = serve(**{'aiotao.body_timeout': 1})
    [worker] = server.worker_pids()
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(b'POST /echo-body HTTP/1.1\r\nHost: t\r\n' + sent)
        if b'chunked' in sent:
            time.sleep(0.2)  # a separate packet, read while the view waits
            sock.sendall(b'zz\r\nabc\r\n0\r\n\r\n')
        started = time.monotonic()
        answer = sock.recv(4096)
        waited = time.monotonic() - started
    assert answer.startswith(b'HTTP/1.1 408 Request Timeout')
    assert b'stopped arriving for 1 seconds (setting aiotao.body_timeout)' in answer
    assert waited < 3
    still_serving(server, worker)


def test_a_path_that_is_not_utf8_gets_400_without_a_traceback(
    server: ServerProcess,
) -> None:
    [worker] = server.worker_pids()
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        stream = sock.makefile('rb')
        # a route, a route's *subpath, then a good request: one connection
        for path in (b'/hello%ff', b'/environ/%c0%ae%c0%ae/x', b'/hello'):
            sock.sendall(b'GET ' + path + b' HTTP/1.1\r\nHost: t\r\n\r\n')
            status = int(stream.readline().split()[1])
            headers = {}
            while (line := stream.readline().rstrip(b'\r\n')) != b'':
                name, _, value = line.partition(b':')
                headers[name.strip().lower()] = value.strip()
            body = stream.read(int(headers[b'content-length']))
            if path == b'/hello':
                assert (status, body) == (200, b'Hello, world!')
            else:
                assert status == 400, (path, body)
                assert b'not UTF-8 once percent-decoded' in body
    server.wait_for_log(r'"GET /environ/%c0%ae%c0%ae/x HTTP/1.1" 400')
    assert 'Traceback' not in server.log()
    assert 'URLDecodeError' not in server.log()
    still_serving(server, worker)


LINGER_SIZE = 65536
LINGER_TIME = 1.0


def send_a_refused_body(
    server: ServerProcess, chunk: bytes, pause: float
) -> tuple[bytes, int, float]:
    """POST an endless body, sending ``chunk`` every ``pause`` s and reading.

    What came back, the bytes the server took, and the seconds until it
    closed the connection (at most 8: then it was never closed).
    """
    sock = socket.create_connection((server.host, server.port), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    sock.sendall(
        b'POST /echo-body HTTP/1.1\r\nHost: t\r\n'
        b'Content-Length: 9223372036854775807\r\n\r\n'
    )
    sock.setblocking(False)
    received, sent = b'', 0
    started = time.monotonic()
    try:
        while time.monotonic() - started < 8:
            readable, writable, _ = select.select([sock], [sock], [], pause or 0.1)
            if readable:
                data = sock.recv(65536)
                if not data:
                    break
                received += data
            if writable:
                with contextlib.suppress(BlockingIOError):
                    sent += sock.send(chunk)
                if pause:
                    time.sleep(pause)
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        sock.close()
    return received, sent, time.monotonic() - started


@pytest.fixture
def lingering(serve: Callable[..., ServerProcess]) -> ServerProcess:
    return serve(
        **{
            'aiotao.max_body_size': LIMIT,
            'aiotao.linger_size': LINGER_SIZE,
            'aiotao.linger_time': LINGER_TIME,
        }
    )


def kernel_buffers() -> int:
    """The most the kernel may hold between the two ends of a connection."""
    receive = int(Path('/proc/sys/net/ipv4/tcp_rmem').read_text().split()[2])
    send = int(Path('/proc/sys/net/ipv4/tcp_wmem').read_text().split()[2])
    return receive + send


def test_after_a_413_the_worker_reads_a_bounded_part_of_the_body(
    lingering: ServerProcess,
) -> None:
    [worker] = lingering.worker_pids()
    received, sent, seconds = send_a_refused_body(lingering, b'x' * 65536, 0)
    assert received.startswith(b'HTTP/1.1 413'), received[:100]
    # aiohttp's lingering read everything that came for 10 s (21 GB once)
    assert seconds < LINGER_TIME + 1.5
    # the bytes read, what the kernel buffers, and aiohttp's read buffer
    assert sent < LINGER_SIZE + kernel_buffers() + 1024 * 1024
    still_serving(lingering, worker)


def test_after_a_413_a_trickling_body_is_cut_off_after_linger_time(
    lingering: ServerProcess,
) -> None:
    received, _, seconds = send_a_refused_body(lingering, b'x' * 1024, 0.05)
    assert received.startswith(b'HTTP/1.1 413'), received[:100]
    assert LINGER_TIME - 0.2 < seconds < LINGER_TIME + 1.5
