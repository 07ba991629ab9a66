"""What the Redis and MongoDB backends share: a broker that comes and goes.

:class:`BrokerBackend` runs one task per process that connects to the
broker, listens, and sends what this process broadcasts; subclasses say how
(:mod:`~aiotao.websocket.backends.redis`,
:mod:`~aiotao.websocket.backends.mongodb`).

**Local first.**  :class:`~aiotao.websocket.groups.Groups` delivers a
broadcast to this process's members itself, synchronously; the backend
only carries it to the other processes, tagged with this process's random
origin id, and drops messages that come back with its own id.  So members
of the same worker get a message at once, and keep getting them while the
broker is down.

**When the broker goes away** (stopped, restarted, network cut):

* the loss is logged once, with the broker's address; so is its return,
  with how many broadcasts did not reach the other processes meanwhile;
* the task reconnects with exponential backoff (from 0.1 s up to
  ``aiotao.broadcast.retry_max``, jittered so that many workers do not
  reconnect in step) and subscribes every group again;
* broadcasts made while it is down reach local members only: for the other
  processes they are **dropped and counted**, not buffered.  A message
  held for the duration of an outage would arrive late and out of place
  (a stale game snapshot, a chat line minutes later), and the other
  processes, reconnecting on their own schedule, might not be listening
  yet anyway.  While connected, broadcasts wait for the broker in a
  bounded buffer (``aiotao.broadcast.buffer``) that one task drains in
  batches; a full buffer drops the new message, counted the same way;
* nothing waits on the broker for long: :meth:`~BrokerBackend.publish`
  only appends to the buffer (or, in a process that just started, waits
  for the first connection attempt), and every broker operation is
  bounded by ``aiotao.broadcast.timeout``;
* the worker keeps serving: no exception of the broker reaches a view;
* once reconnected and subscribed again, the backend calls its
  ``on_resync(groups)`` (set by :class:`~aiotao.websocket.groups.Groups`)
  with the groups that had local members: what was published to them
  while this process was away is lost, and their members are told to
  resync (the chat sends its history again, the game a full snapshot).
  So a member misses nothing it cannot get back: it gets every broadcast,
  or a resync after the gap.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import os
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiotao.websocket.backends.backoff import Backoff
from aiotao.websocket.backends.interface import Deliver
from aiotao.websocket.backends.settings import BroadcastSettings
from aiotao.websocket.backends.wire import ORIGIN_SIZE
from aiotao.websocket.transport import Message

__all__ = ['BrokerBackend']

log = logging.getLogger('aiotao.broadcast')

#: Most broadcasts sent to the broker in one round trip.
MAX_BATCH = 256


class BrokerBackend(abc.ABC):
    """A :class:`~aiotao.websocket.backends.interface.GroupBackend` over a broker.

    Subclasses implement the ``_connect``, ``_listen``, ``_send`` and
    ``_disconnect`` steps (and ``_subscribe``/``_unsubscribe`` if the broker
    subscribes per group); this class runs them, survives their failures
    and keeps the books.
    """

    def __init__(self, settings: BroadcastSettings) -> None:
        self.settings = settings
        #: This process's id on the broker (set by :meth:`start`, after fork).
        self.origin = b''
        #: Broadcasts that did not reach the other processes, since start.
        self.dropped = 0
        self._deliver: Deliver | None = None
        self._groups: set[str] = set()
        self._outbox: deque[tuple[str, Message]] = deque()
        self._backoff = Backoff(first=0.1, cap=settings.retry_max)
        self._runner: asyncio.Task[None] | None = None
        self._outbox_ready = asyncio.Event()
        self._first_attempt = asyncio.Event()
        self._broken: asyncio.Future[BaseException] | None = None
        self._connected = False
        self._ever_connected = False
        self._down_since: float | None = None
        self._dropped_reported = 0
        self._overflowing = False
        #: Called with the groups that may have missed broadcasts, after a
        #: reconnection (see the module's docstring).
        self.on_resync: Callable[[list[str]], None] | None = None

    # -- what subclasses provide ---------------------------------------------

    @property
    @abc.abstractmethod
    def broker(self) -> str:
        """The broker, for the log: ``Redis at redis://host:6379/0``."""

    @abc.abstractmethod
    async def _connect(self) -> None:
        """Connect (bounded by the timeout); raise if the broker is unreachable."""

    async def _resubscribe(self, groups: list[str]) -> None:  # noqa: B027
        """Subscribe ``groups`` on a fresh connection (a stream of all groups: nothing)."""

    async def _subscribe(self, group: str) -> None:  # noqa: B027
        """Subscribe ``group``; return once its messages arrive."""

    async def _unsubscribe(self, group: str) -> None:  # noqa: B027
        """Stop receiving ``group``'s messages."""

    @abc.abstractmethod
    async def _listen(self) -> None:
        """Receive until the connection fails (raise), calling :meth:`_received`."""

    @abc.abstractmethod
    async def _send(self, batch: list[tuple[str, Message]]) -> None:
        """Publish ``(group, message)`` pairs tagged with :attr:`origin`, in order."""

    @abc.abstractmethod
    async def _disconnect(self) -> None:
        """Close the connection; never raise."""

    # -- the GroupBackend protocol -------------------------------------------

    @property
    def connected(self) -> bool:
        """``True`` while the broker carries broadcasts."""
        return self._connected

    async def start(self, deliver: Deliver) -> None:
        """Start connecting in the background; return at once."""
        self._deliver = deliver
        # Random, and made here rather than in __init__: a backend made in
        # gunicorn's master would otherwise give every worker the same id.
        self.origin = os.urandom(ORIGIN_SIZE)
        self._outbox_ready = asyncio.Event()
        self._first_attempt = asyncio.Event()
        self._runner = asyncio.get_running_loop().create_task(
            self._run(), name=f'aiotao.broadcast: {self.broker}'
        )

    async def subscribe(self, group: str) -> None:
        self._groups.add(group)
        # The caller (a chat view loading history next) relies on receiving
        # what is published once join() returned.
        await self._first_connection()
        if self._connected:
            # down: _run subscribes every group again once reconnected
            await self._bounded(self._subscribe(group))

    async def unsubscribe(self, group: str) -> None:
        self._groups.discard(group)
        if self._connected:
            await self._bounded(self._unsubscribe(group))

    async def publish(self, group: str, message: Message) -> None:
        """Queue ``message`` for the other processes; waits only for the first connection."""
        await self._first_connection()
        if not self._connected:
            self.dropped += 1
            return
        if len(self._outbox) >= self.settings.buffer:
            self.dropped += 1
            if not self._overflowing:
                self._overflowing = True
                log.warning(
                    'aiotao.broadcast: %s does not keep up: %d broadcasts wait '
                    '(aiotao.broadcast.buffer); dropping new ones for the other '
                    'processes',
                    self.broker,
                    len(self._outbox),
                )
            return
        self._outbox.append((group, message))
        self._outbox_ready.set()

    async def close(self) -> None:
        """Stop the task and close the connection."""
        runner, self._runner = self._runner, None
        if runner is not None and not runner.done():
            if runner.get_loop() is asyncio.get_running_loop():
                runner.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await runner
        self._deliver = None
        self._first_attempt.set()  # nothing waits for a connection any more

    async def _first_connection(self) -> None:
        """Right after start, give the first connection its chance (bounded)."""
        if not self._first_attempt.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.timeout):
                    await self._first_attempt.wait()

    # -- for subclasses --------------------------------------------------------

    async def _received(self, group: str, origin: bytes, message: Message) -> None:
        """Hand a message from the broker to the local members of ``group``."""
        if origin != self.origin and group in self._groups and self._deliver:
            self._deliver(group, message)
            # let the connections' writers take it before the next one
            await asyncio.sleep(0)

    # -- the connection task ---------------------------------------------------

    async def _bounded(self, operation: Awaitable[None]) -> None:
        """Run a broker operation within the timeout; a failure means reconnect."""
        try:
            async with asyncio.timeout(self.settings.timeout):
                await operation
        except Exception as exc:  # also TimeoutError
            self._break(exc)

    def _break(self, exc: BaseException) -> None:
        broken = self._broken
        if broken is not None and not broken.done():
            broken.set_result(exc)

    async def _run(self) -> None:
        while True:
            try:
                await self._connect_and_serve()
            except Exception as exc:
                self._went_down(exc)
            finally:
                self._connected = False
                self._broken = None
                self._first_attempt.set()
                self.dropped += len(self._outbox)
                self._outbox.clear()
                # bounded too: closing politely waits for a broker that may
                # not answer any more
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.settings.timeout):
                        await self._disconnect()
            await asyncio.sleep(self._backoff.next())

    async def _connect_and_serve(self) -> None:
        async with asyncio.timeout(self.settings.timeout):
            await self._connect()
        self._broken = asyncio.get_running_loop().create_future()
        # Connected from here: a group joined from now on subscribes itself,
        # the ones joined before are in this snapshot.
        reconnected = self._ever_connected
        self._came_up()
        groups = sorted(self._groups)
        if groups:
            async with asyncio.timeout(self.settings.timeout):
                await self._resubscribe(groups)
        self._first_attempt.set()
        if reconnected and groups and self.on_resync is not None:
            # subscribed again: from now on nothing is missed, so what the
            # members are sent to catch up cannot fall into the gap
            self.on_resync(groups)
        await self._serve(self._broken)

    async def _serve(self, broken: asyncio.Future[BaseException]) -> None:
        loop = asyncio.get_running_loop()
        listener = loop.create_task(self._listen())
        sender = loop.create_task(self._send_outbox())
        try:
            waiting: set[asyncio.Future[Any]] = {listener, sender, broken}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            listener.cancel()
            sender.cancel()
            await asyncio.gather(listener, sender, return_exceptions=True)
        for task in (listener, sender):
            if task.done() and not task.cancelled() and task.exception():
                raise task.exception()  # type: ignore[misc]
        if broken.done():
            raise broken.result()
        raise ConnectionError('the broker ended the stream')

    async def _send_outbox(self) -> None:
        outbox = self._outbox
        while True:
            if not outbox:
                self._outbox_ready.clear()
                await self._outbox_ready.wait()
                continue
            batch = [outbox.popleft() for _ in range(min(len(outbox), MAX_BATCH))]
            try:
                async with asyncio.timeout(self.settings.timeout):
                    await self._send(batch)
            except BaseException:
                self.dropped += len(
                    batch
                )  # some may have gone out: the count is an upper bound
                raise
            if self._overflowing and not outbox:
                self._overflowing = False
                self._report_dropped('caught up', logging.WARNING)

    # -- the books -------------------------------------------------------------

    def _came_up(self) -> None:
        self._connected = True
        self._backoff.reset()
        if self._down_since is not None:
            loop = asyncio.get_running_loop()
            down_for = loop.time() - self._down_since
            self._down_since = None
            self._report_dropped(f'is back after {down_for:.1f} s', logging.INFO)
        elif not self._ever_connected:
            log.info('aiotao.broadcast: connected to %s', self.broker)
        self._ever_connected = True

    def _report_dropped(self, event: str, level: int) -> None:
        dropped = self.dropped - self._dropped_reported
        self._dropped_reported = self.dropped
        log.log(
            level,
            'aiotao.broadcast: %s %s; %d broadcasts did not reach the other '
            'processes meanwhile',
            self.broker,
            event,
            dropped,
        )

    def _went_down(self, exc: BaseException) -> None:
        if self._down_since is not None:
            return  # logged once per outage
        self._down_since = asyncio.get_running_loop().time()
        what = 'lost' if self._ever_connected else 'cannot reach'
        log.warning(
            'aiotao.broadcast: %s %s (%s); until it is back, broadcasts reach '
            "this process's members only; reconnecting",
            what,
            self.broker,
            summary(exc),
        )


def summary(exc: BaseException) -> str:
    """One line about ``exc``, without the driver's topology dump."""
    text = str(exc).split(', Timeout:', 1)[0].split(', Topology Description:', 1)[0]
    return f'{type(exc).__name__}: {text}' if text else type(exc).__name__
