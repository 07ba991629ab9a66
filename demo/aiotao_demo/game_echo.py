"""A UDP game-state echo: the demo's ``[aiotao.server:game_echo]``.

A game client sends its state as a JSON object in one datagram; the server
answers with the state, its own clock and the worker's pid, which is what
a client needs to measure latency and clock offset::

    -> {"player": "ann", "x": 3, "y": 4, "seq": 17}
    <- {"state": {"player": "ann", "x": 3, "y": 4, "seq": 17},
        "server_time": 1700000000.25, "pid": 4242}

A datagram that is not a JSON object, or over :data:`MAX_DATAGRAM` bytes,
gets ``{"error": "..."}`` back; the server goes on serving.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any, cast

from pyramid.registry import Registry

from aiotao.sidecars import ServerSection

#: Largest datagram answered; a game state fits in far less.
MAX_DATAGRAM = 1024

Address = tuple[str | Any, int]


def reply_to(datagram: bytes, now: float, pid: int) -> dict[str, Any]:
    """The answer to one datagram.

    >>> reply_to(b'{"x": 1}', 10.5, 7)
    {'state': {'x': 1}, 'server_time': 10.5, 'pid': 7}
    >>> reply_to(b'[1]', 10.5, 7)
    {'error': 'expected a JSON object, got list'}
    """
    if len(datagram) > MAX_DATAGRAM:
        return {
            'error': f'datagram of {len(datagram)} bytes is over the '
            f'{MAX_DATAGRAM}-byte limit'
        }
    try:
        state = json.loads(datagram)
    except ValueError as exc:  # also bad UTF-8
        return {'error': f'not JSON: {exc}'}
    if not isinstance(state, dict):
        return {'error': f'expected a JSON object, got {type(state).__name__}'}
    return {'state': state, 'server_time': now, 'pid': pid}


class GameStateEcho(asyncio.DatagramProtocol):
    """Answers each datagram with :func:`reply_to`."""

    #: Set by aiotao.sidecars before the endpoint starts.
    registry: Registry | None
    section: ServerSection

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # asyncio 3.11's datagram transport does not subclass DatagramTransport
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Address) -> None:
        if self.transport is None:
            return
        reply = reply_to(data, time.time(), os.getpid())
        self.transport.sendto(json.dumps(reply).encode(), addr)
