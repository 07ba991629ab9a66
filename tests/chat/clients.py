"""Chat clients over real sockets (the ``websockets`` library), and the served app.

A :class:`ChatClient` reads everything the server sends in a background
task and keeps it, so a test can wait for "a message with this text" while
it keeps sending.  Its ``worker`` is the pid in the welcome message: which
gunicorn worker serves it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from tests.harness.gunicorn import ServerFactory, ServerProcess

WORKER_CLASS = 'aiotao.serving.gunicorn.Worker'


LOGGING = """
[loggers]
keys = root, aiotao

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console

[logger_aiotao]
level = INFO
handlers =
qualname = aiotao

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(asctime)s %(levelname)s [%(name)s] [%(process)d] %(message)s
"""


def write_ini(path: Path, settings: dict[str, str]) -> Path:
    lines = ['[app:main]', 'use = call:tests.chat.app:main']
    lines += [f'{key} = {value}' for key, value in settings.items()]
    path.write_text('\n'.join(lines) + '\n' + LOGGING)
    return path


def serve_chat(
    gunicorn: ServerFactory,
    directory: Path,
    settings: dict[str, str],
    *,
    workers: int = 2,
    name: str = 'chat.ini',
) -> ServerProcess:
    """The chat test app on ``workers`` gunicorn workers of aiotao's worker class."""
    directory.mkdir(parents=True, exist_ok=True)
    ini = write_ini(directory / name, settings)
    server = gunicorn(
        ['--paste', str(ini), '-k', WORKER_CLASS, '-w', str(workers)],
        ready_path='/hello',
    )
    deadline = time.monotonic() + 30
    # every worker booted, not only the first to answer
    while len(server.worker_pids()) < workers:
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.05)
    return server


class ChatClient:
    """One person in one room, on a real websocket."""

    def __init__(self, url: str, user: str) -> None:
        self.url = url
        self.user = user
        self.received: list[dict[str, Any]] = []
        self.worker: int | None = None
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._next_id = 0
        self.closed = asyncio.Event()

    async def connect(self) -> ChatClient:
        self.closed.clear()
        since = len(self.received)  # a reconnection keeps what came before
        self._ws = await websockets.connect(
            self.url, additional_headers={'X-User': self.user}, open_timeout=10
        )
        self._reader = asyncio.create_task(self._read(self._ws))
        welcome = await self.wait_for(lambda m: m['type'] == 'welcome', since=since)
        self.worker = welcome['worker']
        await self.wait_for(lambda m: m['type'] == 'members', since=since)
        return self

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                self.received.append(json.loads(raw))
                self._changed.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed.set()
            self._changed.set()

    async def wait_for(
        self,
        predicate: Callable[[dict[str, Any]], bool],
        timeout: float = 10,
        since: int = 0,
    ) -> dict[str, Any]:
        """The first message received (from index ``since``) matching ``predicate``."""
        async with asyncio.timeout(timeout):
            while True:
                for message in self.received[since:]:
                    if predicate(message):
                        return message
                if self.closed.is_set():
                    raise ConnectionError(f'{self.user} was disconnected')
                self._changed.clear()
                await self._changed.wait()

    def texts(self) -> list[str]:
        """The texts of the messages seen (live and history), each id once."""
        seen: dict[str, str] = {}
        for message in self.received:
            for item in (
                message['messages'] if message['type'] == 'history' else [message]
            ):
                if item.get('type') == 'message':
                    seen.setdefault(item['id'], item['text'])
        return list(seen.values())

    async def say(self, text: str, timeout: float = 10) -> str:
        """Send ``text``; the stored id once acknowledged (ConnectionError if not)."""
        assert self._ws is not None
        self._next_id += 1
        id = self._next_id
        since = len(self.received)
        try:
            await self._ws.send(json.dumps({'type': 'say', 'id': id, 'text': text}))
        except websockets.ConnectionClosed:
            raise ConnectionError(f'{self.user} was disconnected') from None
        answer = await self.wait_for(
            lambda m: m['type'] in ('reply', 'error') and m.get('id') == id,
            timeout,
            since,
        )
        if answer['type'] == 'error':
            raise AssertionError(f'{text!r} was refused: {answer}')
        return str(answer['data']['id'])

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            await self._reader


async def clients_on_every_worker(
    url: str, users: list[str], workers: int = 2, attempts: int = 60
) -> list[ChatClient]:
    """Connect ``users`` so that every worker serves at least one of them.

    Which worker accepts a connection is the kernel's choice: connections
    that land on a worker already served are closed and tried again.
    """
    clients: list[ChatClient] = []
    for _ in range(attempts):
        client = await ChatClient(url, users[len(clients)]).connect()
        served = {c.worker for c in clients}
        remaining = len(users) - len(clients)
        missing = workers - len(served)
        if client.worker in served and remaining <= missing:
            await client.close()
            continue
        clients.append(client)
        if len(clients) == len(users):
            return clients
    raise AssertionError(f'could not reach {workers} workers in {attempts} connections')
