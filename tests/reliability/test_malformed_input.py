"""A live worker fed malformed HTTP and websocket frames keeps serving.

Raw bytes on raw sockets (:mod:`.wire`) to the demo under one aiotao
worker.  Each malformed request gets a 4xx (or the connection closed
without an answer when there is no request to answer); each malformed
websocket frame to ``/echo`` is answered with the close code RFC 6455
gives it (1002 protocol error, 1007 bad UTF-8, 1009 too big); except an
unmasked client frame, which aiohttp lets through (a strict xfail below).  After all
of them the same worker still answers ``/hello``.
"""

from __future__ import annotations

import struct
from urllib.request import urlopen

import pytest

from tests.reliability.conftest import ServeDemo
from tests.reliability.wire import (
    close_code,
    exchange,
    frame,
    open_websocket,
    status_of,
)

BAD_REQUESTS = {
    'garbage request line': b'GARBAGE\r\n\r\n',
    'unknown HTTP version': b'GET /hello HTTP/9.9\r\nHost: x\r\n\r\n',
    'header without a colon': b'GET /hello HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n',
    'control byte in a header': b'GET /hello HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n',
    'space before the colon': b'GET /hello HTTP/1.1\r\nHost : x\r\n\r\n',
    'Content-Length not a number': (
        b'POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n'
    ),
    'two different Content-Lengths': (
        b'POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n'
        b'Content-Length: 2\r\n\r\nab'
    ),
    'bad chunk size': (
        b'POST /hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n'
        b'zz\r\nabc\r\n0\r\n\r\n'
    ),
    'Content-Length with chunked': (
        b'POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n'
        b'Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
    ),
    'request line over the limit': b'GET /' + b'a' * 10000 + b' HTTP/1.1\r\n\r\n',
    'header over the limit': b'GET /hello HTTP/1.1\r\nX-Big: '
    + b'a' * 10000
    + b'\r\n\r\n',
    'non-digit Host port': b'GET /hello HTTP/1.1\r\nHost: x:port\r\n\r\n',
    'absolute target, broken IPv6 host': b'GET http://[/x HTTP/1.1\r\nHost: x\r\n\r\n',
    'body over aiotao.max_body_size': (
        b'POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n'
    ),
}

BAD_FRAMES = {
    'reserved opcode 3': (frame(0x3, b'x'), 1002),
    'bad UTF-8 in a text frame': (frame(0x1, b'\xff\xfe\xfd'), 1007),
    'fragmented ping': (frame(0x9, b'x', fin=False), 1002),
    'control frame over 125 bytes': (frame(0x9, b'x' * 126), 1002),
    'continuation with nothing to continue': (frame(0x0, b'x'), 1002),
    'reserved bit set': (bytes([0xC1]) + frame(0x1, b'x')[1:], 1002),
    'length over max_message_size': (
        bytes([0x82, 0xFF]) + struct.pack('!Q', 2**40) + b'\x00\x00\x00\x00',
        1009,
    ),
}


def test_malformed_requests_get_a_4xx_and_the_worker_serves_on(
    serve_demo: ServeDemo,
) -> None:
    server = serve_demo(**{'aiotao.max_body_size': '1000'})
    [worker] = server.worker_pids()
    answers = {name: exchange(server.port, data) for name, data in BAD_REQUESTS.items()}
    statuses = {name: status_of(answer) for name, answer in answers.items()}
    print('\n' + '\n'.join(f'{name}: {status}' for name, status in statuses.items()))
    for name, status in statuses.items():
        assert status is not None and 400 <= status < 500, (name, answers[name][:200])
    assert statuses['body over aiotao.max_body_size'] == 413
    with urlopen(server.url('/hello'), timeout=5) as response:
        assert response.read() == b'Hello, world!'
    assert server.worker_pids() == [worker]
    assert 'Traceback' not in server.log()


def test_malformed_frames_close_with_the_protocol_code_and_the_worker_serves_on(
    serve_demo: ServeDemo,
) -> None:
    server = serve_demo()
    [worker] = server.worker_pids()
    codes = {}
    for name, (data, _) in BAD_FRAMES.items():
        sock = open_websocket(server.port, '/echo')
        sock.sendall(data)
        codes[name] = close_code(sock)
    print('\n' + '\n'.join(f'{name}: {code}' for name, code in codes.items()))
    assert codes == {name: code for name, (_, code) in BAD_FRAMES.items()}
    # a good websocket and plain HTTP still work, on the same worker
    sock = open_websocket(server.port, '/echo')
    sock.sendall(frame(0x1, b'still here'))
    assert sock.recv(64) == b'\x81\x0astill here'
    sock.sendall(frame(0x8, struct.pack('!H', 1000)))
    assert close_code(sock) == 1000
    with urlopen(server.url('/hello'), timeout=5) as response:
        assert response.read() == b'Hello, world!'
    assert server.worker_pids() == [worker]
    assert 'Traceback' not in server.log()


@pytest.mark.xfail(
    strict=True,
    reason=(
        "upstream: aiohttp's websocket reader (aiohttp/_websocket/reader_py.py, "
        '3.14) accepts unmasked client frames, which RFC 6455 section 5.1 '
        'says a server must close the connection on (1002); the frame is '
        "echoed as if masked.  By design: aiohttp's THREAT_MODEL.md, section "
        '5.3, threat 3.1 (lenient by default for interop).  The ASGI and '
        'serve-ws servers close with 1002 (tests/websocket/test_views.py)'
    ),
)
def test_an_unmasked_client_frame_closes_with_1002(serve_demo: ServeDemo) -> None:
    server = serve_demo()
    sock = open_websocket(server.port, '/echo')
    sock.settimeout(1)  # a close frame would come at once
    sock.sendall(frame(0x1, b'hi', mask=False))
    assert close_code(sock) == 1002
