"""The floor under ``bench/fanout.py``: the fan-out with no framework at all.

    .venv/bin/python bench/fanout_floor.py [--senders 1|2] [--clients 1000]

The kernel's share of a fan-out, on this machine: ``--senders`` processes
(one per worker) write a ready-made websocket frame of the bench's size
with ``socket.send()`` to their share of ``--clients`` loopback TCP
connections, fifty times 0.2 s apart; two reader processes (the bench's
client processes) only ``recv()``, without parsing a frame.  Reported: the
time from the send to the last reception (p50, p99) and the CPU time per
broadcast of each side.  No server can fan out faster here; the bench's
aiohttp clients also parse every frame, which costs more than ``recv()``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import selectors
import socket
import statistics
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection

from load import raise_open_files_limit

BROADCASTS = 50
INTERVAL = 0.2
#: the bench's message ('bench N T' and 80 characters): some 128 bytes
FRAME = b'\x81\x7e\x00\x80' + b'x' * 128


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def reader(port: int, count: int, pipe: Connection) -> None:
    """``count`` connections; notes when all of them got each broadcast."""
    raise_open_files_limit()
    selector = selectors.EpollSelector()
    for _ in range(count):
        sock = socket.create_connection(('127.0.0.1', port))
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
    pipe.send('ready')
    pipe.recv()
    started = cpu_seconds()
    frames = 0
    done: list[float] = []  # when the last connection got broadcast n
    while frames < count * BROADCASTS:
        for key, _ in selector.select():
            frames += len(key.fileobj.recv(65536)) // len(FRAME)  # type: ignore[union-attr]
            while frames >= (len(done) + 1) * count:
                done.append(time.monotonic())
    pipe.send((cpu_seconds() - started, done))


def sender(connections: Sequence[socket.socket], pipe: Connection) -> None:
    """Write the frame to each of ``connections`` on every order of the parent."""
    started = cpu_seconds()
    for _ in range(BROADCASTS):
        pipe.recv()
        for connection in connections:
            connection.send(FRAME)
    pipe.send(cpu_seconds() - started)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--senders', type=int, default=1)
    parser.add_argument('--clients', type=int, default=1000)
    args = parser.parse_args(argv)
    raise_open_files_limit()
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(args.clients)
    port = listener.getsockname()[1]
    context = multiprocessing.get_context('fork')
    readers: list[Connection] = []
    for index in range(2):
        ours, theirs = context.Pipe()
        share = args.clients // 2 + (index < args.clients % 2)
        context.Process(target=reader, args=(port, share, theirs), daemon=True).start()
        readers.append(ours)
    connections = [listener.accept()[0] for _ in range(args.clients)]
    for pipe in readers:
        assert pipe.recv() == 'ready'
    senders: list[Connection] = []
    for index in range(args.senders):
        ours, theirs = context.Pipe()
        share = connections[index :: args.senders]
        context.Process(target=sender, args=(share, theirs), daemon=True).start()
        senders.append(ours)
    for pipe in readers:
        pipe.send('go')
    time.sleep(0.5)
    sent_at = []
    for _ in range(BROADCASTS):
        sent_at.append(time.monotonic())
        for pipe in senders:
            pipe.send('send')
        time.sleep(INTERVAL)
    send_cpu = sum(pipe.recv() for pipe in senders)
    results = [pipe.recv() for pipe in readers]
    latencies = sorted(
        (max(done[n] for _, done in results) - sent_at[n]) * 1000
        for n in range(BROADCASTS)
    )
    p99 = statistics.quantiles(latencies, n=100, method='inclusive')[98]
    read_cpu = sum(cpu for cpu, _ in results)
    print(
        f'{args.senders} sender(s), {args.clients} clients: '
        f'last reception p50 {statistics.median(latencies):.1f} ms, '
        f'p99 {p99:.1f} ms; CPU ms per broadcast: send '
        f'{send_cpu * 1000 / BROADCASTS:.2f}, recv {read_cpu * 1000 / BROADCASTS:.2f}'
    )


if __name__ == '__main__':
    main()
