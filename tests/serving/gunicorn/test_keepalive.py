"""gunicorn's ``keepalive`` under aiotao's worker, and slow request heads.

``keepalive = N``: idle connections close after N seconds, and a connection
that takes longer than that to send its request head (slowloris) is
dropped.  ``keepalive = 0``: every connection closes after its response,
and ``aiotao.header_timeout`` still bounds the head.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from tests.harness.gunicorn import ServerProcess

HELLO = b'GET /hello HTTP/1.1\r\nHost: t\r\n\r\n'


def closed_within(sock: socket.socket, seconds: float) -> float:
    """Read until the server closes; how long it took (fails after ``seconds``)."""
    started = time.monotonic()
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        raise AssertionError(f'still open after {seconds} s') from None
    return time.monotonic() - started


def test_keepalive_zero_closes_every_connection_after_its_response(
    serve: Callable[..., ServerProcess],
) -> None:
    server = serve('--keep-alive', '0')
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(HELLO)
        response = b''
        while chunk := sock.recv(65536):  # the server closes: recv() ends
            response += chunk
    assert response.startswith(b'HTTP/1.1 200')
    assert b'connection: close' in response.lower()


def test_a_slow_request_head_is_dropped_with_keepalive_zero(
    serve: Callable[..., ServerProcess],
) -> None:
    server = serve('--keep-alive', '0', **{'aiotao.header_timeout': 1})
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(b'GET /hello HTTP/1.1\r\nHost: t\r\nX-Slow: ')  # never ends
        assert closed_within(sock, 5) < 4
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(HELLO)
        assert sock.recv(65536).startswith(b'HTTP/1.1 200')  # still serving


def test_a_slow_request_head_is_dropped_after_keepalive_seconds(
    serve: Callable[..., ServerProcess],
) -> None:
    server = serve('--keep-alive', '1')
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(b'GET /hello HTTP/1.1\r\nHost: t\r\n')
        assert closed_within(sock, 5) < 4
