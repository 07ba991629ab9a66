"""Slow clients, run in a process of their own: ``python -m tests.reliability.attackers``.

The attack runs apart from the test that measures the server, so that the
attackers' own work does not slow the measuring clients' event loop and
pass for the server's slowness.  It prints ``settled`` on a line of its own
once every websocket is stalled (no send has gone through for
``STALLED`` seconds: the server's buffers and the kernel's are full), and
one JSON object (what it saw) when ``--seconds`` are over::

    python -m tests.reliability.attackers --port 6543 --slowloris 200 \\
        --websockets 100 --seconds 8

* slowloris: each connection sends a request line and then one header
  byte every half second, never finishing the head, and reconnects when
  the server drops it (as the attack does);
* websockets: each sends 64 KiB messages to ``/echo`` as fast as the
  server takes them and never reads the echoes (``max_queue=1``: the client library stops
  reading the socket as soon as one message waits; a 4 KiB receive buffer
  makes the server's socket fill after a few messages, not megabytes).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import sys
import time
from dataclasses import dataclass, field

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

#: Large enough to fill the server's socket buffers (up to 4 MiB on loopback)
#: in a few dozen messages.
PAYLOAD = b'x' * 65536
#: Seconds without a send going through after which a websocket is stalled.
STALLED = 1.5


@dataclass
class Report:
    """What the attackers saw."""

    slowloris_drops: int = 0
    #: Seconds each dropped slowloris connection lived.
    slowloris_lifetimes: list[float] = field(default_factory=list)
    #: How each websocket ended: its close code, or an error's name.
    websocket_ends: list[str] = field(default_factory=list)
    #: Seconds from a websocket's opening to its end.
    websocket_lifetimes: list[float] = field(default_factory=list)
    #: When each websocket's last send went through (monotonic), by index.
    last_send: dict[int, float] = field(default_factory=dict)


async def slowloris(port: int, deadline: float, report: Report) -> None:
    """Keep one connection trickling a request head, reconnecting when dropped."""
    while time.monotonic() < deadline:
        opened = time.monotonic()
        try:
            reader, writer = await asyncio.open_connection('127.0.0.1', port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        dropped = False
        try:
            writer.write(b'GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n')
            while time.monotonic() < deadline:
                writer.write(b'X')  # a header line that never ends
                await writer.drain()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.5):
                        if await reader.read(1024) == b'':
                            dropped = True  # the server closed it
                            break
        except OSError:
            dropped = True  # reset by the server
        finally:
            writer.close()
        if dropped:
            report.slowloris_drops += 1
            report.slowloris_lifetimes.append(time.monotonic() - opened)


async def never_read(port: int, deadline: float, report: Report, index: int) -> None:
    """Send to ``/echo``, never read, and note how the server ended it."""
    opened = time.monotonic()
    report.last_send[index] = opened
    end = 'still open'
    try:
        sock = await _small_window_socket(port)
        async with connect(
            f'ws://127.0.0.1:{port}/echo',
            max_queue=1,
            max_size=None,
            open_timeout=10,
            close_timeout=1,
            ping_interval=None,
            compression=None,
            sock=sock,
        ) as ws:
            try:
                while time.monotonic() < deadline:
                    async with asyncio.timeout(max(0.1, deadline - time.monotonic())):
                        await ws.send(PAYLOAD)
                    report.last_send[index] = time.monotonic()
            except TimeoutError:
                pass  # blocked on a full socket until the end: never dropped
            except ConnectionClosed:
                pass  # dropped by the server
            # its lifetime ends here: reading what is left below can take
            # a while with hundreds of sockets to drain in this process
            ended = time.monotonic()
            if ws.close_code is not None:
                end = str(ws.close_code)
            else:
                # learn how the server ended it: read what is left
                with contextlib.suppress(ConnectionClosed, TimeoutError):
                    async with asyncio.timeout(20):
                        async for _ in ws:
                            pass
                end = str(ws.close_code)
    except OSError as exc:
        end = type(exc).__name__
        ended = time.monotonic()
    report.websocket_ends.append(end)
    report.websocket_lifetimes.append(ended - opened)


async def _small_window_socket(port: int) -> socket.socket:
    """A connected socket with a small receive buffer.

    Without it the kernel's buffers on loopback (megabytes each way) absorb
    a long stream of echoes before the server's socket is ever full.
    """
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ('127.0.0.1', port))
    return sock


async def announce_settled(report: Report, websockets: int) -> None:
    """Print ``settled`` once every websocket is stalled (see the module)."""
    await asyncio.sleep(STALLED)
    while True:
        now = time.monotonic()
        stalled = [now - last > STALLED for last in report.last_send.values()]
        if len(stalled) == websockets and all(stalled):
            print('settled', flush=True)
            return
        await asyncio.sleep(0.25)


async def attack(port: int, slow: int, websockets: int, seconds: float) -> Report:
    report = Report()
    deadline = time.monotonic() + seconds
    settled = asyncio.ensure_future(announce_settled(report, websockets))
    try:
        await asyncio.gather(
            *(slowloris(port, deadline, report) for _ in range(slow)),
            *(never_read(port, deadline, report, n) for n in range(websockets)),
        )
    finally:
        settled.cancel()
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--slowloris', type=int, default=0)
    parser.add_argument('--websockets', type=int, default=0)
    parser.add_argument('--seconds', type=float, required=True)
    args = parser.parse_args(argv)
    report = asyncio.run(
        attack(args.port, args.slowloris, args.websockets, args.seconds)
    )
    json.dump(
        {k: v for k, v in report.__dict__.items() if k != 'last_send'}, sys.stdout
    )


if __name__ == '__main__':
    main()
