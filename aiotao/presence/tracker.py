"""The presence tracker of one process: track people in topics, hear who comes and goes.

::

    presence = get_presence(request.registry)
    presence.subscribe('room:lobby', on_diff)          # joins, leaves, updates
    ref = await presence.track('room:lobby', 'user:42', {'nick': 'ada'})
    presence.present('room:lobby')                    # {'user:42': {'nick': 'ada'}, ...}
    await presence.untrack(ref)

A person (a *key*) may have many connections in a topic, on many workers
and machines: each connection is tracked on its own (a *ref*), and the
topic's listeners hear **one join** when the first one arrives anywhere
and **one leave** when the last one has gone.  Every process keeps the
whole picture (:class:`~aiotao.presence.state.PresenceState`) and tells
its listeners what changed in it, so each worker tells its own
connections.

**Across processes** the trackers talk through a
:class:`~aiotao.presence.interface.PresenceChannel` (the application's
broadcast backend): numbered deltas of each one's own entries, a
heartbeat every ``aiotao.presence.heartbeat`` seconds carrying the
version, and the whole state on request, when a tracker starts or notices
it missed a delta.  Delivery may lose messages; the versions find the gap.

**A process that dies** (``kill -9``, a lost machine) cannot say that its
people left.  Every tracker measures, on its own monotonic clock, how long
each other one has been silent: after ``aiotao.presence.timeout`` seconds
its entries are dropped, and the people that had no connection elsewhere
leave.  Those who reconnected to another worker meanwhile are present
there, so they do not leave: no false "left", no second "joined".  No
clocks are compared between machines.  While this process's own broker is
unreachable it does not take the others' silence for their death.  A
worker that starts (gunicorn's replacement for the dead one) learns the
dead one's entries from the others' states too, and waits for a first
state (at most a heartbeat) before its first track: the people
reconnecting to it are not news.

**A process that stops gracefully** closes its websockets with 1001 and
their clients reconnect elsewhere: while it closes them
(:func:`aiotao.websocket.shutdown.closing`) it stops talking, and the
others treat it as one that died.

**A closed connection lingers** ``aiotao.presence.linger`` seconds when it
was its person's last one in the topic: a page reloading, or reconnecting
after a network blip, tracks again within that time, and nobody hears a
leave and a join.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiotao.presence.interface import PresenceChannel
from aiotao.presence.settings import PresenceSettings
from aiotao.presence.state import Change, Meta, PresenceDiff, PresenceState, add, remove
from aiotao.presence.wire import ForeignMessage, PresenceMessage, decode, encode

__all__ = ['Listener', 'Presence']

log = logging.getLogger('aiotao.presence')

#: ``listener(diff)``: what changed in a topic.  Synchronous: it only queues.
Listener = Callable[[PresenceDiff], None]
#: Replicas remembered as dropped, at most (a few per worker restart).
MAX_FORGOTTEN = 1000


class Presence:
    """This process's presence tracker (see the module documentation).

    ``clock`` returns seconds (the event loop's clock unless a test gives
    its own); ``going_away`` says whether this process is closing its
    websockets to stop.  With ``background=False`` nothing runs by itself:
    the caller calls :meth:`advance` (tests with a clock of their own).
    """

    def __init__(
        self,
        channel: PresenceChannel,
        settings: PresenceSettings | None = None,
        *,
        clock: Callable[[], float] | None = None,
        going_away: Callable[[], bool] | None = None,
        background: bool = True,
    ) -> None:
        self.channel = channel
        self.settings = settings or PresenceSettings()
        self._clock = clock
        self._going_away = going_away or (lambda: False)
        self._background = background
        self.state: PresenceState | None = None
        self._listeners: dict[str, list[Listener]] = {}
        #: this process's refs -> (topic, key)
        self._refs: dict[str, tuple[str, str]] = {}
        #: (topic, key) -> (ref, when it goes): a last connection, closed
        self._lingering: dict[tuple[str, str], tuple[str, float]] = {}
        #: other replicas -> when they were last heard of (our clock)
        self._heard: dict[str, float] = {}
        #: replicas whose state was asked for -> when
        self._asked: dict[str, float] = {}
        #: replicas dropped for their silence: not learned again from others
        self._forgotten: dict[str, None] = {}
        self._synced = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._runner: asyncio.Task[None] | None = None
        self._started_in: tuple[int, asyncio.AbstractEventLoop] | None = None
        self._starting: asyncio.Future[None] | None = None
        self._next_beat = 0.0
        self._muted = False
        self._was_connected = True
        self._warned_foreign = False

    # -- starting --------------------------------------------------------------

    def _now(self) -> float:
        if self._clock is not None:
            return self._clock()
        return asyncio.get_running_loop().time()

    @property
    def replica(self) -> str | None:
        """This process's id among the replicas (once started)."""
        return None if self.state is None else self.state.replica

    async def start(self) -> None:
        """Start on the running loop (done by the first :meth:`track` or :meth:`subscribe`)."""
        here = (os.getpid(), asyncio.get_running_loop())
        if self._started_in == here:
            return
        # Concurrent first uses share one start; one that failed (the
        # broker was away) or ran on another loop (a test's) is redone.
        starting = self._starting
        if (
            starting is None
            or starting.get_loop() is not here[1]
            or (starting.done() and (starting.cancelled() or starting.exception()))
        ):
            starting = self._starting = asyncio.ensure_future(self._start())
        await asyncio.shield(starting)
        self._started_in = here

    async def _start(self) -> None:
        # Made here, after gunicorn forked: a replica per process.
        self.state = PresenceState(f'{os.getpid()}.{secrets.token_hex(6)}')
        self._heard.clear()
        self._asked.clear()
        self._forgotten.clear()
        self._synced = asyncio.Event()
        self._refs.clear()
        self._lingering.clear()
        self._muted = False
        await self.channel.start(self._receive)
        self._next_beat = self._now() + self.settings.heartbeat
        # "send me your state": this process knows nobody yet
        await self._send(PresenceMessage('hello', self._state.replica))
        if self._background:
            self._runner = asyncio.get_running_loop().create_task(
                self._run(), name='aiotao.presence'
            )
            # the others' picture first (a single worker hears nothing)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(self.settings.heartbeat, 1.0)):
                    await self._synced.wait()

    @property
    def _state(self) -> PresenceState:
        assert self.state is not None, 'the tracker is not started'
        return self.state

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.settings.tick)
            try:
                await self.advance()
            except Exception:
                log.exception('aiotao.presence: the heartbeat failed')

    # -- the public API ----------------------------------------------------

    def subscribe(self, topic: str, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with each change in ``topic``; returns the unsubscribe.

        ``listener`` is called synchronously, on the loop, with a
        :class:`~aiotao.presence.state.PresenceDiff`: it must not block
        (queue a message, set an event).
        """
        listeners = self._listeners.setdefault(topic, [])
        listeners.append(listener)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                listeners.remove(listener)
            if not listeners and self._listeners.get(topic) is listeners:
                del self._listeners[topic]

        return unsubscribe

    def present(self, topic: str) -> dict[str, Meta]:
        """The keys present in ``topic``, in every process, and their meta."""
        return {} if self.state is None else self.state.present(topic)

    def meta_of(self, topic: str, key: str) -> Meta | None:
        """The meta of ``key`` in ``topic`` (``None``: not present)."""
        return None if self.state is None else self.state.meta_of(topic, key)

    async def track(self, topic: str, key: str, meta: Meta) -> str:
        """Track one connection of ``key`` in ``topic``; returns its ref.

        The first connection of ``key`` anywhere makes a join; others
        change nothing but may change the meta shown (the latest set wins).
        """
        await self.start()
        ref = secrets.token_hex(8)
        changes: list[Change] = []
        lingering = self._lingering.pop((topic, key), None)
        if lingering is not None:
            # back within the linger: one delta replaces the old connection
            self._refs.pop(lingering[0], None)
            changes.append(remove(topic, key, lingering[0]))
        self._refs[ref] = (topic, key)
        changes.append(add(topic, key, ref, meta, 0))
        await self._change(changes)
        return ref

    async def update(self, ref: str, meta: Meta) -> None:
        """Set the meta of the tracked connection ``ref``."""
        topic, key = self._where(ref)
        await self._change([add(topic, key, ref, meta, 0)])

    async def untrack(self, ref: str) -> None:
        """Stop tracking ``ref`` (unknown refs are fine: untracking twice is once).

        When it was its key's last connection here, it lingers
        (``aiotao.presence.linger``) before it goes.
        """
        where = self._refs.get(ref)
        if where is None or self.state is None:
            return
        if self._going_away():
            self._muted = True
        topic, key = where
        others = [
            other
            for other in self._state.own_refs(topic, key)
            if other != ref and other in self._refs
        ]
        if self.settings.linger > 0 and not others and not self._muted:
            self._lingering[where] = (ref, self._now() + self.settings.linger)
            return
        del self._refs[ref]
        await self._change([remove(topic, key, ref)])

    @contextlib.asynccontextmanager
    async def tracking(self, topic: str, key: str, meta: Meta) -> AsyncIterator[str]:
        """Track a connection for the duration of a ``with`` block::

            async with presence.tracking('room:lobby', userid, {'nick': nick}) as ref:
                async for message in ws:
                    ...

        The connection is untracked when the block ends, even if cancelled.
        """
        ref = await self.track(topic, key, meta)
        try:
            yield ref
        finally:
            await asyncio.shield(self.untrack(ref))

    def _where(self, ref: str) -> tuple[str, str]:
        try:
            return self._refs[ref]
        except KeyError:
            raise ValueError(f'presence ref {ref!r} is not tracked here') from None

    async def _change(self, changes: list[Change]) -> None:
        delta, diffs = self._state.local(changes)
        self._dispatch(diffs)
        if not self._muted:
            await self._send(
                PresenceMessage('delta', delta.replica, delta.version, delta.changes)
            )

    # -- time ----------------------------------------------------------------

    async def advance(self) -> None:
        """Beat, drop silent replicas, end lingers: what the clock says is due."""
        if self.state is None:
            return
        now = self._now()
        connected = self.channel.connected
        if connected and not self._was_connected:
            # back from an outage: everyone was silent to us, not dead;
            # and we may have missed deltas: ask for every state again
            for replica in self._heard:
                self._heard[replica] = now
            await self._send(
                PresenceMessage('hello', self._state.replica, self._state.version)
            )
        self._was_connected = connected
        if self._going_away():
            self._muted = True
        if not self._muted and now >= self._next_beat:
            self._next_beat = now + self.settings.heartbeat
            await self._send(
                PresenceMessage('beat', self._state.replica, self._state.version)
            )
        if connected:
            for replica, heard in list(self._heard.items()):
                if now - heard > self.settings.timeout:
                    self._lost(replica)
        for (topic, key), (ref, due) in list(self._lingering.items()):
            if now >= due and self._lingering.get((topic, key)) == (ref, due):
                del self._lingering[topic, key]
                self._refs.pop(ref, None)
                await self._change([remove(topic, key, ref)])

    def _lost(self, replica: str) -> None:
        del self._heard[replica]
        self._asked.pop(replica, None)
        self._forgotten[replica] = None
        while len(self._forgotten) > MAX_FORGOTTEN:
            del self._forgotten[next(iter(self._forgotten))]
        log.info(
            'aiotao.presence: no word from %s for %g s: its people have left',
            replica,
            self.settings.timeout,
        )
        self._dispatch(self._state.forget(replica))

    # -- other processes -------------------------------------------------------

    def _receive(self, text: str | bytes) -> None:
        state = self.state
        if state is None:
            return
        try:
            message = decode(text)
        except ForeignMessage as exc:
            if not self._warned_foreign:
                self._warned_foreign = True
                log.warning(
                    'aiotao.presence: ignoring a message on the presence channel '
                    'that aiotao did not send (%s); logged once',
                    exc,
                )
            return
        sender = message.replica
        if sender == state.replica:
            return  # our own, back from the broker
        self._heard[sender] = self._now()
        self._forgotten.pop(sender, None)  # it speaks: it is alive
        op = message.op
        if op == 'delta':
            diffs = state.apply_delta(sender, message.version, message.changes)
            if diffs is None:
                self._ask(sender)
            else:
                self._dispatch(diffs)
        elif op == 'state':
            self._asked.pop(sender, None)
            self._dispatch(state.apply_state(sender, message.version, message.entries))
            self._learn_others(message)
            self._synced.set()
        elif op == 'beat':
            self._caught_up(sender, message.version)
        elif op == 'hello':
            self._caught_up(sender, message.version)
            self._reply_state(sender)
        elif op == 'sync' and message.to == state.replica:
            self._reply_state(sender)

    def _learn_others(self, message: PresenceMessage) -> None:
        """The replicas a state tells of that this one never heard of (dead, maybe)."""
        state = self._state
        for replica, (version, entries) in message.others.items():
            if (
                replica == state.replica
                or replica in self._forgotten
                or state.knows(replica)
            ):
                continue
            # its silence counts from now, on this replica's clock
            self._heard[replica] = self._now()
            self._dispatch(state.apply_state(replica, version, entries))

    def _caught_up(self, sender: str, version: int) -> None:
        """Ask for ``sender``'s state unless what is known of it is at ``version``."""
        known = self._state.version_of(sender)
        if known is None and version == 0:
            self._state.meet(sender)
        elif known is None or version > known:
            self._ask(sender)

    def _ask(self, replica: str) -> None:
        now = self._now()
        asked = self._asked.get(replica)
        if asked is not None and now - asked < self.settings.heartbeat:
            return  # asked already; the next beat asks again if it is lost
        self._asked[replica] = now
        self._spawn(
            self._send(PresenceMessage('sync', self._state.replica, to=replica))
        )

    def _reply_state(self, to: str) -> None:
        if self._muted:
            return
        state = self._state
        others = {
            replica: (version, state.snapshot(replica))
            for replica in state.replicas()
            if replica not in self._forgotten
            and (version := state.version_of(replica)) is not None
        }
        self._spawn(
            self._send(
                PresenceMessage(
                    'state',
                    state.replica,
                    state.version,
                    entries=state.snapshot(),
                    to=to,
                    others=others,
                )
            )
        )

    def _dispatch(self, diffs: list[PresenceDiff]) -> None:
        for diff in diffs:
            for listener in tuple(self._listeners.get(diff.topic, ())):
                try:
                    listener(diff)
                except Exception:
                    log.exception(
                        'aiotao.presence: a listener of %s failed', diff.topic
                    )

    async def _send(self, message: PresenceMessage) -> None:
        try:
            await self.channel.send(encode(message))
        except Exception as exc:  # the heartbeat and the next sync recover
            log.warning('aiotao.presence: a %s was not sent: %s', message.op, exc)

    def _spawn(self, coroutine: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- stopping --------------------------------------------------------------

    async def close(self) -> None:
        """Stop talking and listening (at server shutdown); nothing is left running.

        The other processes are not told: they treat this one as stopped
        once it has been silent for ``aiotao.presence.timeout`` seconds,
        which gives its people the time to reconnect elsewhere.
        """
        self._muted = True
        runner, self._runner = self._runner, None
        loop = asyncio.get_running_loop()
        if runner is not None and runner.get_loop() is loop:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        tasks = [task for task in self._tasks if task.get_loop() is loop]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        if self._started_in is not None and self._started_in[1] is loop:
            with contextlib.suppress(Exception):
                await self.channel.close()
        self._started_in = None
        self._starting = None
