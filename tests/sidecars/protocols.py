"""Protocol classes and factories the server tests name in their inis."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

from aiotao.sidecars import ServerSection, StreamServer, start_stream_server


class Shout(asyncio.Protocol):
    """TCP: answers each chunk upper-cased, with the app's ``greeting`` setting."""

    registry: Any
    section: ServerSection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        greeting = self.registry.settings.get('greeting', '') if self.registry else ''
        self.transport.write(greeting.encode() + data.upper())


class Describe(asyncio.DatagramProtocol):
    """UDP: answers who it is (section name, option, app setting)."""

    registry: Any
    section: ServerSection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        reply = {
            'section': self.section.name,
            'colour': self.section.options.get('colour'),
            'greeting': self.registry.settings.get('greeting'),
            'got': data.decode(),
        }
        self.transport.sendto(json.dumps(reply).encode(), addr)


async def slow_lines(registry: Any, section: ServerSection) -> StreamServer:
    """TCP: each line is answered after ``option.delay`` seconds."""
    delay = float(section.options.get('delay', '0'))

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while line := await reader.readline():
            await asyncio.sleep(delay)
            writer.write(b'done ' + line)
            await writer.drain()
        writer.write(b'end of input\n')

    return await start_stream_server(handle, section)


async def not_a_server(registry: Any, section: ServerSection) -> object:
    return object()


def not_async(registry: Any, section: ServerSection) -> None:
    pass


NOT_A_CLASS = 42
