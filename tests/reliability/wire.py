"""Raw bytes on a socket: malformed HTTP requests and websocket frames.

No HTTP or websocket library here on purpose: the point is to send what
no library would, and to read the server's answer byte for byte.
"""

from __future__ import annotations

import base64
import os
import socket
import struct

TIMEOUT = 5.0


def exchange(port: int, data: bytes, *, head_only: bool = False) -> bytes:
    """Send ``data`` on a fresh connection; the server's answer.

    That is everything up to the end of the response (by its
    ``Content-Length``), or only its head with ``head_only``, or what came
    before the server closed or ``TIMEOUT`` seconds of silence.
    """
    with socket.create_connection(('127.0.0.1', port), timeout=TIMEOUT) as sock:
        sock.sendall(data)
        received = b''
        try:
            while chunk := sock.recv(65536):
                received += chunk
                if b'\r\n\r\n' in received and (head_only or _complete(received)):
                    break
        except (TimeoutError, ConnectionResetError):
            pass
    return received


def _complete(response: bytes) -> bool:
    head, _, body = response.partition(b'\r\n\r\n')
    for line in head.split(b'\r\n')[1:]:
        name, _, value = line.partition(b':')
        if name.strip().lower() == b'content-length':
            return len(body) >= int(value)
    return False


def status_of(response: bytes) -> int | None:
    """The status code of a raw response, ``None`` if there is none."""
    if not response.startswith(b'HTTP/1.'):
        return None
    return int(response.split(b' ', 2)[1])


def frame(opcode: int, payload: bytes, *, fin: bool = True, mask: bool = True) -> bytes:
    """A websocket frame, masked as a client's must be (unless ``mask=False``)."""
    head = bytes([(0x80 if fin else 0) | opcode])
    length = len(payload)
    mask_bit = 0x80 if mask else 0
    if length < 126:
        head += bytes([mask_bit | length])
    elif length < 65536:
        head += bytes([mask_bit | 126]) + struct.pack('!H', length)
    else:
        head += bytes([mask_bit | 127]) + struct.pack('!Q', length)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def open_websocket(port: int, path: str) -> socket.socket:
    """A socket past a websocket handshake to ``path`` (101 checked)."""
    sock = socket.create_connection(('127.0.0.1', port), timeout=TIMEOUT)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f'GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n'
            'Upgrade: websocket\r\nConnection: Upgrade\r\n'
            f'Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n'
        ).encode()
    )
    head = b''
    while b'\r\n\r\n' not in head:
        chunk = sock.recv(1)
        if not chunk:
            raise AssertionError(f'handshake to {path} closed: {head!r}')
        head += chunk
    assert head.startswith(b'HTTP/1.1 101'), head
    return sock


def close_code(sock: socket.socket) -> int | None:
    """Read frames until the server's close frame; its code (``None``: no close frame)."""
    buffer = b''
    try:
        while True:
            while len(buffer) < 2:
                chunk = sock.recv(65536)
                if not chunk:
                    return None
                buffer += chunk
            opcode = buffer[0] & 0x0F
            length = buffer[1] & 0x7F
            offset = 2
            if length == 126:
                length, offset = struct.unpack('!H', buffer[2:4])[0], 4
            elif length == 127:
                length, offset = struct.unpack('!Q', buffer[2:10])[0], 10
            while len(buffer) < offset + length:
                chunk = sock.recv(65536)
                if not chunk:
                    return None
                buffer += chunk
            payload = buffer[offset : offset + length]
            buffer = buffer[offset + length :]
            if opcode == 0x8:
                return int(struct.unpack('!H', payload[:2])[0]) if payload else 1005
    except (TimeoutError, ConnectionResetError):
        return None
    finally:
        sock.close()
