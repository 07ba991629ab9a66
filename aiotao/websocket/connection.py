"""The websocket connection a view works with (``ws``).

Its API mirrors the ``websockets`` library's::

    @view_config(route_name='echo', mapper=WebsocketMapper)
    async def echo(ws):
        async for message in ws:          # str or bytes; ends when closed
            await ws.send(message)

* ``await ws.recv()`` returns the next message (``str`` or ``bytes``), or
  ``None`` once the connection is closed, as in aiopyramid.  One task reads
  at a time: a second concurrent ``recv()`` raises
  :exc:`~aiotao.websocket.exceptions.ConcurrencyError`.  It is safe to
  cancel (``asyncio.timeout(5)`` around it loses no message).
* ``await ws.send(data)``, ``await ws.send_json(obj)``,
  ``await ws.recv_json()``; sending on a closed connection raises
  :exc:`~aiotao.websocket.exceptions.ConnectionClosed`, which ends the view
  quietly if it is not caught.
* ``await ws.close(code=1000, reason='')``, safe to call twice and from any
  task; ``ws.state``, ``ws.close_code``, ``ws.close_reason``.
* ``await ws.join(group)``, ``await ws.leave(group)``,
  ``await ws.broadcast(group, message)`` (see :mod:`aiotao.websocket.groups`).
* ``ws.request``: the Pyramid request of the handshake, with its
  ``matchdict``, ``identity``, ``session``...

**Sending and slow clients.**  A message goes straight to the server's
socket when nothing else is being written.  Otherwise (the client reads
slower than the server writes) it waits in a per-connection queue that a
writer task drains in order.  The queue holds at most
``aiotao.websocket.max_queue`` messages, and ``ws.send()`` waits at most
``aiotao.websocket.send_timeout`` seconds for its message to reach the
socket.  Past either limit the client is dropped: the connection is closed
with code 1008 (:data:`SLOW_CLIENT`) and ``send`` raises
:exc:`~aiotao.websocket.exceptions.ConnectionClosed`.  So a client that
stops reading costs at most ``max_queue`` messages of memory, and neither
``send`` nor a broadcast ever waits on it for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import weakref
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiotao.websocket import shutdown as connections
from aiotao.websocket.addresses import ADDRESS_PREFIXES, new_address
from aiotao.websocket.exceptions import (
    ConcurrencyError,
    ConnectionClosed,
    InvalidJSON,
    InvalidState,
)
from aiotao.websocket.groups import Groups, get_groups
from aiotao.websocket.limits import DEFAULT_LIMITS, Limits
from aiotao.websocket.transport import Message, WebsocketTransport

__all__ = ['SLOW_CLIENT', 'State', 'WebsocketConnection', 'valid_close_code']

log = logging.getLogger(__name__)

#: Close code for a client dropped because it reads too slowly (policy
#: violation: it does not keep up with what it subscribed to).
SLOW_CLIENT = 1008
_ABNORMAL = 1006
#: A close frame carries at most 125 bytes: the code (2) and the reason.
_MAX_REASON_BYTES = 123


class State(enum.Enum):
    """Where a connection is in its life; ``ws.state``."""

    #: The handshake is not complete yet.
    CONNECTING = 'connecting'
    #: Messages flow both ways.
    OPEN = 'open'
    #: A close frame was sent or received; nothing more can be sent.
    CLOSING = 'closing'
    #: Over: ``recv()`` returns ``None``, ``send()`` raises.
    CLOSED = 'closed'


# The states, for the paths that run for every message: an enum member
# looked up on its class (State.OPEN) costs more than the rest of a check
# (Python 3.11), a module global a fraction of it.
_CONNECTING = State.CONNECTING
_OPEN = State.OPEN
_CLOSED = State.CLOSED


def valid_close_code(code: int) -> bool:
    """``True`` for a close code an endpoint may send (RFC 6455 section 7.4).

    >>> [valid_close_code(c) for c in (1000, 1006, 1011, 3000, 4999, 5000)]
    [True, False, True, True, True, False]
    """
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


def _check_close_code(code: int) -> None:
    if not valid_close_code(code):
        raise ValueError(
            f'{code} is not a close code an endpoint may send: use 1000 '
            f'(normal), 1001 (going away), 1008 (policy), 1011 (error) or an '
            f'application code from 3000 to 4999'
        )


def _truncate_reason(reason: str) -> str:
    encoded = reason.encode('utf-8')
    if len(encoded) <= _MAX_REASON_BYTES:
        return reason
    return encoded[:_MAX_REASON_BYTES].decode('utf-8', 'ignore')


def _as_message(data: object) -> Message:
    if isinstance(data, (str, bytes)):  # a subclass
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise TypeError(
        f'send() takes str or bytes, not {type(data).__name__}; use '
        f'send_json() for other objects'
    )


@dataclass(slots=True)
class _Outgoing:
    data: Message
    #: Resolved once written, for a ``send()`` that waits; ``None`` for
    #: broadcasts, which do not.
    written: asyncio.Future[None] | None


class WebsocketConnection:
    """One websocket connection, as a view sees it.

    Made by :class:`~aiotao.mappers.WebsocketMapper` over the server's
    :class:`~aiotao.websocket.transport.WebsocketTransport`; views receive it
    open and leave it closed.
    """

    def __init__(
        self,
        transport: WebsocketTransport,
        request: Any,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        #: The Pyramid request of the handshake.
        self.request = request
        self.limits = limits
        #: The subprotocol agreed in the handshake, if any.
        self.subprotocol: str | None = None
        #: The event loop serving the connection (set once accepted).
        self.loop: asyncio.AbstractEventLoop | None = None
        #: Where ``request.realtime.send_to_connection()`` reaches it
        #: (:mod:`aiotao.websocket.addresses`).
        self.address = new_address()
        #: The handshake's ``authenticated_userid`` once open, if any: where
        #: ``request.realtime.send_to_user()`` reaches it.
        self.userid: Any = None
        self._transport = transport
        self._state = State.CONNECTING
        self._reader: asyncio.Task[Any] | None = None
        self._waking_reader = False
        # True while a message is being handed to the transport, by send()
        # itself or by the writer task; the queue waits behind it.
        self._writing = False
        self._queue: deque[_Outgoing] = deque()
        self._in_flight: _Outgoing | None = None
        self._writer: asyncio.Task[None] | None = None
        # the loop's shared writer, found once: asked for every broadcast
        self._shared_writer: _SharedWriter | None = None
        self._idle_waiter: asyncio.Future[None] | None = None
        self._closing: asyncio.Task[None] | None = None
        self._close_code: int | None = None
        self._close_reason = ''

    def __repr__(self) -> str:
        path = getattr(self.request, 'path', '?')
        return f'<WebsocketConnection {path} {self._state.value}>'

    # -- state -------------------------------------------------------------

    @property
    def state(self) -> State:
        """The connection's :class:`State`."""
        return self._state

    @property
    def is_open(self) -> bool:
        """``True`` while messages can be sent."""
        return self._state is _OPEN

    @property
    def close_code(self) -> int | None:
        """How the connection closed: the first close frame's code (the
        client's if it closed first, else the server's); 1006 if the network
        connection was lost; ``None`` while open."""
        return self._close_code

    @property
    def close_reason(self) -> str:
        """The reason that came with :attr:`close_code`."""
        return self._close_reason

    def _closed_error(self) -> ConnectionClosed:
        return ConnectionClosed(self._close_code or _ABNORMAL, self._close_reason)

    def _check_open(self, action: str) -> None:
        if self._state is State.OPEN:
            return
        if self._state is State.CONNECTING:
            raise InvalidState(f'{action} before the websocket handshake completed')
        raise self._closed_error()

    async def accept(self, subprotocol: str | None = None) -> None:
        """Complete the handshake (the view mapper does it before calling the view)."""
        if self._state is not State.CONNECTING:
            raise InvalidState(f'accept() on a connection that is {self._state.value}')
        await self._transport.accept(subprotocol, self.limits)
        self.subprotocol = subprotocol
        self.loop = asyncio.get_running_loop()
        self._state = State.OPEN
        connections.register(self)

    # -- receiving ---------------------------------------------------------

    async def recv(self) -> Message | None:
        """The next message, ``str`` or ``bytes``; ``None`` once closed.

        >>> async def shout(ws):
        ...     while (message := await ws.recv()) is not None:
        ...         await ws.send(message.upper())
        """
        if self._reader is not None:
            raise ConcurrencyError(
                'recv() is already waiting for a message in another task: read '
                'a websocket from one task only, and hand messages to the '
                'others (e.g. through an asyncio.Queue)'
            )
        if self._state is not _OPEN:
            if self._state is _CONNECTING:
                raise InvalidState('recv() before the websocket handshake completed')
            if self._state is _CLOSED:
                return None
        # (with the loop: asking asyncio for the running loop costs more
        # than finding the task)
        task = asyncio.current_task(self.loop)
        self._reader = task
        try:
            message = await self._transport.receive()
        except asyncio.CancelledError:
            # _finish() cancels a reader the transport did not wake; any
            # other cancellation is the caller's and goes on.
            if not self._waking_reader or task is None or task.uncancel() > 0:
                raise
            message = None
        finally:
            self._reader = None
            self._waking_reader = False
        if message is None:
            await self._closed_by_transport()
        return message

    async def recv_json(self) -> Any:
        """The next message, decoded from JSON.

        Raises :exc:`~aiotao.websocket.exceptions.InvalidJSON` for a message
        that is not JSON (the connection stays open), and
        :exc:`~aiotao.websocket.exceptions.ConnectionClosed` once closed
        (``None`` would be ambiguous: it is also JSON's ``null``).

        >>> async def add(ws):
        ...     numbers = await ws.recv_json()
        ...     await ws.send_json({'sum': sum(numbers)})
        """
        message = await self.recv()
        if message is None:
            raise self._closed_error()
        try:
            return json.loads(message)
        except ValueError as exc:  # also bad UTF-8 in a binary message
            raise InvalidJSON(message, str(exc)) from None

    def __aiter__(self) -> WebsocketConnection:
        return self

    async def __anext__(self) -> Message:
        message = await self.recv()
        if message is None:
            raise StopAsyncIteration
        return message

    # -- sending -----------------------------------------------------------

    async def send(self, data: Message | bytearray | memoryview) -> None:
        """Send a text (``str``) or binary (``bytes``) message.

        Returns once the message is handed to the server's socket.  Raises
        :exc:`~aiotao.websocket.exceptions.ConnectionClosed` if the
        connection is closed, or gets closed because the client is too slow
        (see the module documentation).  If cancelled, the message may
        still be sent.
        """
        if type(data) is not str and type(data) is not bytes:
            data = _as_message(data)
        # (the checks and calls on this path are inlined: it runs for every
        # message, and each call costs about as much as its work)
        if self._state is not _OPEN:
            self._check_open('send()')
        if not self._writing and not self._queue:
            # The common case: nothing waits, the socket takes it now.
            self._writing = True
            transport = self._transport
            try:
                if transport.send_may_wait(data):
                    await self._write(data)
                else:
                    try:
                        await transport.send(data)
                    except ConnectionClosed as exc:
                        raise self._lost(exc) from None
            finally:
                self._writing = False
                if self._queue or self._idle_waiter is not None:
                    self._writing_stopped()
            return
        written = asyncio.get_running_loop().create_future()
        if not self._enqueue(_Outgoing(data, written)):
            raise self._closed_error()
        try:
            async with asyncio.timeout(self.limits.send_timeout):
                await written
        except TimeoutError:
            self._drop_slow_client(
                f'too slow: a message waited over {self.limits.send_timeout:g} s'
            )
            raise self._closed_error() from None

    async def send_json(self, obj: Any) -> None:
        """Send ``obj`` as a JSON text message.

        >>> async def hello(ws):
        ...     await ws.send_json({'type': 'hello', 'user': ws.request.authenticated_userid})
        """
        await self.send(json.dumps(obj, separators=(',', ':'), ensure_ascii=False))

    def send_nowait(self, data: Message) -> bool:
        """Send or queue ``data`` without waiting; ``False`` if it was not taken.

        What broadcasts use: a closed connection is skipped, and a full
        queue closes the connection (code 1008) instead of waiting.  With
        nothing queued before it, the message is written at once where the
        transport can (:meth:`~aiotao.websocket.transport.WebsocketTransport.send_now`).
        """
        if not isinstance(data, (str, bytes)):
            raise TypeError(
                f'send_nowait() takes str or bytes, not {type(data).__name__}'
            )
        if self._state is not _OPEN:
            return False
        if not self._writing and not self._queue:
            # Nothing ahead of it: straight to the socket where the transport
            # can, so a broadcast's first members have it while the others
            # are still being reached (not all queued, then all written).
            try:
                if self._transport.send_now(data):
                    return True
            except ConnectionClosed as exc:
                self._lost(exc)
                return False
        return self._enqueue(_Outgoing(data, None))

    def _enqueue(self, item: _Outgoing) -> bool:
        if len(self._queue) >= self.limits.max_queue:
            self._drop_slow_client(
                f'too slow: over {self.limits.max_queue} messages waiting'
            )
            return False
        self._queue.append(item)
        if not self._writing:
            self._writing = True
            if item.written is None:
                # send_nowait(), i.e. a broadcast: written by the loop's
                # shared writer, one task for all the connections that take
                # their message at once rather than a task each
                shared = self._shared_writer
                if shared is None:
                    shared = self._shared_writer = _shared_writer()
                shared.add(self)
            else:
                self._writer = asyncio.get_running_loop().create_task(
                    self._drain_queue()
                )
        return True

    def _write_shared_now(self) -> bool:
        """The shared writer's turn, without a coroutine where the transport allows.

        Writes the queued messages the transport sends at once
        (:meth:`~aiotao.websocket.transport.WebsocketTransport.send_now`):
        ``True`` once this connection's turn is over, ``False`` when the
        rest needs :meth:`_write_shared` (the transport has no such path,
        or the socket's buffer is getting full).
        """
        queue = self._queue
        send_now = self._transport.send_now
        try:
            while queue and self._state is not _CLOSED:
                item = queue[0]
                if not send_now(item.data):
                    return False
                queue.popleft()
                written = item.written
                if written is not None and not written.done():
                    written.set_result(None)
        except ConnectionClosed as exc:
            self._fail_pending(self._lost(exc))
        self._writing = False
        if queue or self._idle_waiter is not None:
            self._writing_stopped()
        return True

    async def _write_shared(self) -> None:
        """The shared writer's turn: the queued messages the socket takes now.

        A connection whose socket is backed up, or with more queued, goes
        on in a writer task of its own, so it never holds up the others.
        """
        queue = self._queue
        while (
            self._state is not _CLOSED
            and queue
            and not self._transport.send_may_wait(queue[0].data)
        ):
            item = self._in_flight = queue.popleft()
            try:
                await self._write(item.data)
            except ConnectionClosed as exc:
                self._fail_pending(exc)
                break
            else:
                if item.written is not None and not item.written.done():
                    item.written.set_result(None)
            finally:
                self._in_flight = None
        self._writing = False
        self._writing_stopped()  # a writer task of its own for the rest

    async def _write(self, data: Message) -> None:
        # send() has this inlined for its common case
        transport = self._transport
        try:
            if transport.send_may_wait(data):
                async with asyncio.timeout(self.limits.send_timeout):
                    await transport.send(data)
            else:
                # The socket takes it now (the common case): no timer to
                # arm and cancel, which cost as much as the send itself.
                await transport.send(data)
        except TimeoutError:
            self._drop_slow_client(
                f'too slow: a message waited over {self.limits.send_timeout:g} s'
            )
            raise self._closed_error() from None
        except ConnectionClosed as exc:
            raise self._lost(exc) from None

    def _lost(self, exc: ConnectionClosed) -> ConnectionClosed:
        """The transport found the connection gone (reset, closed): close it."""
        self._begin_close(exc.code, exc.reason, flush=False)
        return self._closed_error()

    async def _drain_queue(self) -> None:
        """The writer task: hand queued messages to the transport, in order."""
        try:
            while self._queue:
                item = self._in_flight = self._queue.popleft()
                await self._write(item.data)
                self._in_flight = None
                if item.written is not None and not item.written.done():
                    item.written.set_result(None)
        except ConnectionClosed as exc:
            self._fail_pending(exc)
        finally:
            self._in_flight = None
            self._writer = None
            self._writing = False
            self._writing_stopped()

    def _writing_stopped(self) -> None:
        if self._queue and self._state is not _CLOSED:
            # messages queued behind a direct send(): the writer takes over
            self._writing = True
            self._writer = asyncio.get_running_loop().create_task(self._drain_queue())
        elif self._idle_waiter is not None and not self._idle_waiter.done():
            self._idle_waiter.set_result(None)

    def _fail_pending(self, exc: ConnectionClosed) -> None:
        pending = list(self._queue)
        if self._in_flight is not None:
            pending.append(self._in_flight)
        self._queue.clear()
        for item in pending:
            if item.written is not None and not item.written.done():
                item.written.set_exception(exc)

    def _drop_slow_client(self, reason: str) -> None:
        if self._closing is None:
            log.info('aiotao: dropping websocket client %s: %s', self, reason)
        self._begin_close(SLOW_CLIENT, reason, flush=False)

    # -- closing -----------------------------------------------------------

    async def close(self, code: int = 1000, reason: str = '') -> None:
        """Close the connection; returns once it is closed.

        Safe to call twice and from any task (later calls wait for the first
        close).  Messages still queued are sent first, for at most
        ``send_timeout`` seconds; then the close handshake waits at most
        ``close_timeout`` for the client.

        >>> async def bye(ws):
        ...     await ws.send('bye')
        ...     await ws.close(4000, 'done')
        """
        _check_close_code(code)
        if self._state is State.CONNECTING:
            # never opened: nothing to tell the client, no task to start
            self._state = State.CLOSED
            self._close_code, self._close_reason = code, _truncate_reason(reason)
            return
        if self._state is State.CLOSED and self._closing is None:
            return
        self._begin_close(code, reason, flush=True)
        await self._wait_closed()

    def close_nowait(self, code: int = 1000, reason: str = '') -> None:
        """Start closing without waiting, and without sending queued messages."""
        _check_close_code(code)
        if self._state is not State.CONNECTING:
            self._begin_close(code, reason, flush=False)

    def _begin_close(self, code: int, reason: str, *, flush: bool) -> None:
        if self._closing is not None:
            return
        self._state = State.CLOSING
        self._close_code, self._close_reason = code, _truncate_reason(reason)
        self._closing = asyncio.get_running_loop().create_task(self._run_close(flush))

    async def _wait_closed(self) -> None:
        closing = self._closing
        if closing is not None:
            # shielded: a caller that is cancelled does not stop the close
            await asyncio.shield(closing)

    async def _closed_by_transport(self) -> None:
        """The transport's receive side ended: the client closed, or we did."""
        # The transport knows how it ended (the client's code, 1009...).
        code = self._transport.close_code or _ABNORMAL
        self._begin_close(code, self._transport.close_reason, flush=False)
        await self._wait_closed()

    async def _run_close(self, flush: bool) -> None:
        try:
            if flush and self._writing:
                await self._until_written()
            if self._writer is not None:
                self._writer.cancel()
            self._fail_pending(self._closed_error())
            code = self._close_code or 1000
            # 1005/1006 describe a close, they are never sent; when they are
            # the code the transport is already closed and sends nothing.
            await self._transport.close(
                code if valid_close_code(code) else 1000, self._close_reason
            )
        except Exception:
            log.exception('aiotao: closing websocket %s failed; dropping it', self)
            self._transport.abort()
        finally:
            self._finish()
        await self._leave_groups()

    async def _until_written(self) -> None:
        self._idle_waiter = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(self.limits.send_timeout):
                await self._idle_waiter
        except TimeoutError:
            log.info('aiotao: closing websocket %s with messages unsent', self)
        finally:
            self._idle_waiter = None

    def _finish(self) -> None:
        self._state = State.CLOSED
        connections.discard(self)
        reader = self._reader
        if reader is not None and not reader.done():
            # The transport may not wake a reader when the closing handshake
            # could not happen (ASGI, client not reading): recv() returns None.
            self._waking_reader = True
            reader.cancel()

    # -- groups ------------------------------------------------------------

    def _groups(self) -> Groups:
        return get_groups(self.request.registry)

    @property
    def groups(self) -> frozenset[str]:
        """The groups this connection is in (not its addresses')."""
        joined = self._groups().joined(self)
        if any(group.startswith(ADDRESS_PREFIXES) for group in joined):
            return frozenset(g for g in joined if not g.startswith(ADDRESS_PREFIXES))
        return joined

    async def join(self, group: str) -> None:
        """Join ``group``: receive what is broadcast to it until closed or :meth:`leave`."""
        self._check_open('join()')
        groups = self._groups()
        await groups.join(group, self)
        if self._state is not State.OPEN:
            # closed while the backend subscribed: its leave_all ran already
            await groups.leave(group, self)
            raise self._closed_error()

    async def leave(self, group: str) -> None:
        """Leave ``group`` (closing leaves every group)."""
        await self._groups().leave(group, self)

    async def broadcast(self, group: str, message: Message) -> None:
        """Send ``message`` to every connection in ``group`` (this one too, if in it)."""
        await self._groups().broadcast(group, message)

    async def _leave_groups(self) -> None:
        try:
            await self._groups().leave_all(self)
        except Exception:
            log.exception('aiotao: websocket %s could not leave its groups', self)


class _SharedWriter:
    """Writes queued broadcasts for many connections in one task.

    A broadcast to 1,000 idle connections would otherwise start 1,000
    writer tasks, which cost more than the writes.  Each connection is
    written once per turn and only when its socket takes the message at
    once; the rest get writer tasks of their own.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._pending: list[WebsocketConnection] = []
        self._task: asyncio.Task[None] | None = None

    def add(self, connection: WebsocketConnection) -> None:
        self._pending.append(connection)
        if self._task is None:
            self._task = self._loop.create_task(self._run())

    async def _run(self) -> None:
        batch: deque[WebsocketConnection] = deque()
        try:
            while self._pending:
                batch = deque(self._pending)
                self._pending = []
                while batch:
                    connection = batch.popleft()
                    if not connection._write_shared_now():
                        await connection._write_shared()
        finally:
            self._task = None
            # cancelled (the loop is stopping): whoever is left writes alone
            for connection in [*batch, *self._pending]:
                connection._writing = False
                with contextlib.suppress(RuntimeError):
                    connection._writing_stopped()
            self._pending = []


_shared_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _SharedWriter] = (
    weakref.WeakKeyDictionary()
)


def _shared_writer() -> _SharedWriter:
    loop = asyncio.get_running_loop()
    writer = _shared_writers.get(loop)
    if writer is None:
        writer = _shared_writers[loop] = _SharedWriter(loop)
    return writer
