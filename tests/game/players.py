"""A test player: a real websocket client that keeps the room's state as it sees it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from aiotao.game.encoding import MSGPACK
from aiotao.game.patch import merge_apply

WAIT = 5.0


class TestPlayer:
    """Reads every message in a task; ``state`` is the room as this client sees it."""

    __test__ = False

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.messages: list[dict[str, Any]] = []
        self.state: dict[str, Any] | None = None
        self.tick = 0
        self.welcome: dict[str, Any] | None = None
        self.bytes_received = 0
        self.binary_messages = 0
        self._arrived = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self.bytes_received += len(raw)
                if isinstance(raw, bytes):  # a state message in MessagePack
                    assert MSGPACK is not None
                    self.binary_messages += 1
                    message = MSGPACK.decode(raw)
                else:
                    message = json.loads(raw)
                self.messages.append(message)
                if message['type'] == 'snapshot':
                    self.state, self.tick = message['state'], message['tick']
                elif message['type'] == 'delta' and self.state is not None:
                    self.state = merge_apply(self.state, message['patch'])
                    self.tick = message['tick']
                elif message['type'] == 'welcome':
                    self.welcome = message
                elif message['type'] == 'room_closed':
                    self.state = None
                self._arrived.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            self._arrived.set()

    async def send(self, type: str, **fields: Any) -> None:
        await self.ws.send(json.dumps({'type': type, **fields}))

    async def wait_for(
        self, check: Callable[[TestPlayer], Any], timeout: float = WAIT
    ) -> Any:
        """Wait until ``check(self)`` is truthy; its value."""
        deadline = time.monotonic() + timeout
        while True:
            result = check(self)
            if result:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._reader.done():
                raise AssertionError(
                    f'waited {timeout}s in vain; last messages: {self.messages[-5:]}'
                )
            self._arrived.clear()
            try:
                # woken by each message; every 20 ms too, for server-side checks
                await asyncio.wait_for(self._arrived.wait(), min(remaining, 0.02))
            except TimeoutError:
                pass

    async def message(self, type: str, after: int = 0) -> dict[str, Any]:
        """The first message of ``type`` from index ``after`` on (waiting for it)."""

        def found(player: TestPlayer) -> dict[str, Any] | None:
            return next((m for m in player.messages[after:] if m['type'] == type), None)

        return await self.wait_for(found)  # type: ignore[no-any-return]

    async def join(self, **fields: Any) -> dict[str, Any]:
        """Join; the welcome, once the first snapshot arrived too."""
        self.welcome = None
        start = len(self.messages)
        await self.send('join', **fields)
        await self.wait_for(
            lambda p: (
                p.welcome is not None
                or any(m['type'] == 'error' for m in p.messages[start:])
            )
        )
        if self.welcome is None:
            raise AssertionError(f'join refused: {self.messages[start:]}')
        await self.wait_for(lambda p: p.state is not None and self.me in p.players)
        return self.welcome

    @property
    def me(self) -> str:
        assert self.welcome is not None
        return str(self.welcome['seat'])

    @property
    def players(self) -> dict[str, Any]:
        return self.state['players'] if self.state else {}

    async def close(self) -> None:
        await self.ws.close()
        await self._reader


@asynccontextmanager
async def connect(
    url: str, subprotocols: list[str] | None = None
) -> AsyncIterator[TestPlayer]:
    async with websockets.connect(
        url,
        origin=_origin(url),  # type: ignore[arg-type]
        subprotocols=subprotocols,  # type: ignore[arg-type]
    ) as ws:
        player = TestPlayer(ws)
        try:
            await player.message('hello')
            yield player
        finally:
            await player.close()


@asynccontextmanager
async def connect_elsewhere(
    url: str, worker: int, subprotocols: list[str] | None = None
) -> AsyncIterator[TestPlayer]:
    """A player whose connection landed on another worker than ``worker``."""
    for _attempt in range(100):
        async with connect(url, subprotocols) as player:
            if player.messages[0]['worker'] != worker:
                yield player
                return
        await asyncio.sleep(0.02)  # let the other worker's accept loop run
    pytest.fail(f'100 connections all landed on worker {worker}')


def _origin(url: str) -> str:
    return 'http://' + url.split('://', 1)[1].split('/', 1)[0]
