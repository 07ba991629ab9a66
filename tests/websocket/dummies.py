"""A transport without sockets, for the connection's and mapper's own rules.

Real servers are in ``servers.py``; this dummy exists for what a real
server cannot be made to do on cue: a send that blocks until the test
says so, a close that never completes.
"""

from __future__ import annotations

import asyncio

from aiotao.websocket.exceptions import ConnectionClosed, HandshakeError
from aiotao.websocket.limits import DEFAULT_LIMITS, Limits
from aiotao.websocket.transport import Message, WebsocketTransport


class DummyTransport(WebsocketTransport):
    """Messages in through :meth:`feed`, out into :attr:`sent`."""

    def __init__(self, *, refuse: str | None = None, writes_now: bool = False) -> None:
        self.refuse = refuse
        #: True: :meth:`send_now` writes while :attr:`writable` is set, as the
        #: gunicorn transport does while the socket's buffer has room.
        self.writes_now = writes_now
        self.incoming: asyncio.Queue[Message | None] = asyncio.Queue()
        self.sent: list[Message] = []
        #: Cleared: send() blocks, as on a client that stopped reading.
        self.writable = asyncio.Event()
        self.writable.set()
        #: Cleared: close() never completes (ASGI, client not reading).
        self.closable = asyncio.Event()
        self.closable.set()
        self.closes: list[tuple[int, str]] = []
        self.aborted = False
        #: How many times receive() was called (a view waiting in recv()).
        self.receives = 0
        self.subprotocol: str | None = None
        self.limits: Limits | None = None
        self._code: int | None = None
        self._reason = ''
        self._ended = False

    def feed(self, message: Message | None) -> None:
        """The client sends ``message``; ``None``: the client closes (1000)."""
        self.incoming.put_nowait(message)

    async def accept(
        self, subprotocol: str | None = None, limits: Limits = DEFAULT_LIMITS
    ) -> None:
        if self.refuse is not None:
            raise HandshakeError(self.refuse)
        self.subprotocol = subprotocol
        self.limits = limits
        self.accepted = True

    async def receive(self) -> Message | None:
        self.receives += 1
        if self._ended:
            return None
        message = await self.incoming.get()
        if message is None:
            self._ended = True
            if self._code is None:
                self._code, self._reason = 1000, 'client closed'
        return message

    def _check_open(self) -> None:
        """Raise as a real transport does once the connection is closed or lost."""
        if self.closes or self._ended:
            raise ConnectionClosed(self._code or 1006, self._reason)

    async def send(self, data: Message) -> None:
        self._check_open()
        await self.writable.wait()
        self.sent.append(data)

    def lose(self) -> None:
        """The network connection breaks: sends raise, as after a reset."""
        self._ended = True
        self._code, self._reason = 1006, 'connection lost'

    def send_now(self, data: Message) -> bool:
        if not self.writes_now:
            return False
        self._check_open()
        if not self.writable.is_set():
            return False
        self.sent.append(data)
        return True

    async def close(self, code: int = 1000, reason: str = '') -> None:
        self.closes.append((code, reason))
        if self._code is None:
            self._code, self._reason = code, reason
        await self.closable.wait()

    def abort(self) -> None:
        self.aborted = True

    @property
    def close_code(self) -> int | None:
        return self._code

    @property
    def close_reason(self) -> str:
        return self._reason
