"""Admission control: an overloaded worker sheds new work instead of slowing everyone.

An event loop serves every connection of a worker.  When it falls behind
(a CPU-bound view, too many players, a starved machine) each new request
or player makes every existing one later still.  aiotao's gunicorn worker
therefore refuses *new* work, cleanly, while it is overloaded, and keeps
serving what it already has:

* **Connections** (gunicorn's ``worker_connections``, 1000 by default):
  a connection beyond the limit gets ``503 Service Unavailable`` with
  ``Retry-After`` to its request (a websocket handshake included) and is
  closed.
* **Loop lag** (``aiotao.admission.max_loop_lag``, seconds; off by
  default): while the loop is later than that, a new request gets ``503``
  with ``Retry-After``, and a new websocket is accepted and closed at once
  with ``1013 Try Again Later`` (a browser sees 1013; it sees nothing of a
  refused handshake).  Requests on connections already open are refused
  too (they are new work); messages on open websockets, and game ticks,
  go on.

``Retry-After`` is ``aiotao.admission.retry_after`` seconds (1 by default).

**How the lag is measured.**  :class:`LoopLag` wakes every
:data:`TICK` seconds and records how late it woke.  While the loop is
blocked it cannot wake, so when a request is considered the lag is also
taken as how overdue its next wake-up is: right after a stall, the
requests that queued up during it are refused *before* the monitor had a
chance to run.  The lag of the last wake-up counts until the next one
(:data:`TICK` later): the worker admits again as soon as its loop is on
time.  Game rooms tick on the same loop, so a room's tick lateness is the
loop's lag (:mod:`aiotao.game.metrics`).

The figures (lag, refusals) are in :func:`worker_admission`'s
:meth:`Admission.metrics`, which the demo's admin console shows
(``stats``).

>>> settings = AdmissionSettings.from_settings({'aiotao.admission.max_loop_lag': '0.5'})
>>> settings.max_loop_lag, settings.retry_after
(0.5, 1)
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiotao.settings import number, optional, read_setting, whole_number

__all__ = [
    'TICK',
    'TRY_AGAIN_LATER',
    'Admission',
    'AdmissionSettings',
    'LoopLag',
    'worker_admission',
]

MAX_LOOP_LAG = 'aiotao.admission.max_loop_lag'
RETRY_AFTER = 'aiotao.admission.retry_after'
#: Seconds between two wake-ups of the lag monitor.
TICK = 0.1
#: The websocket close code for a refused newcomer (RFC 6455, IANA registry).
TRY_AGAIN_LATER = 1013


@dataclass(frozen=True)
class AdmissionSettings:
    """The ``aiotao.admission.*`` settings."""

    #: Refuse new work while the loop is later than this (``None``: never).
    max_loop_lag: float | None = None
    #: The ``Retry-After`` of a refusal, in seconds.
    retry_after: int = 1

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None) -> AdmissionSettings:
        """Read and check the settings: a bad value names its setting.

        >>> AdmissionSettings.from_settings({'aiotao.admission.max_loop_lag': '-1'})
        Traceback (most recent call last):
        ...
        pyramid.exceptions.ConfigurationError: aiotao.admission.max_loop_lag = '-1': expected a number of seconds from 0.001 to 60 (0.5 is a good start), or off
        """
        settings = settings or {}
        max_loop_lag = read_setting(
            settings,
            MAX_LOOP_LAG,
            None,
            optional(number(0.001, 60)),
            'a number of seconds from 0.001 to 60 (0.5 is a good start), or off',
        )
        retry_after = read_setting(
            settings,
            RETRY_AFTER,
            1,
            whole_number(0, 86400),
            'a whole number of seconds, 0 or more',
        )
        return cls(max_loop_lag, retry_after)


class LoopLag:
    """How late the event loop is, measured by a task that wakes every :data:`TICK`."""

    def __init__(self, tick: float = TICK) -> None:
        self.tick = tick
        #: How late the last wake-up was (seconds).
        self.last = 0.0
        #: The worst lateness seen since the monitor started.
        self.worst = 0.0
        self._due: float | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._due = self._loop.time() + self.tick
        self._task = self._loop.create_task(self._run(), name='aiotao loop lag')

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        loop = self._loop
        assert loop is not None
        while True:
            await asyncio.sleep(self.tick)
            now = loop.time()
            assert self._due is not None
            self.last = max(0.0, now - self._due)
            self.worst = max(self.worst, self.last)
            self._due = now + self.tick

    def now(self) -> float:
        """The lag at this moment: the last measure, or how overdue the next one is."""
        if self._due is None or self._loop is None:
            return 0.0
        return max(self.last, self._loop.time() - self._due)


class Admission:
    """What one worker admits: its connection limit and its lag limit."""

    def __init__(
        self, settings: AdmissionSettings, worker_connections: int | None = None
    ) -> None:
        self.settings = settings
        #: Connections this worker serves at most (``None``: no limit).
        self.worker_connections = worker_connections
        self.lag = LoopLag()
        self.refused_connections = 0
        self.refused_requests = 0
        self.refused_websockets = 0
        # connections opened beyond the limit: their requests are refused
        # (aiohttp's protocol objects take no weak references)
        self._over_limit: set[Any] = set()

    # -- connections --------------------------------------------------------

    def connection_made(self, connection: Any, open_connections: int) -> None:
        """A new connection; ``open_connections`` counts it."""
        limit = self.worker_connections
        if limit is not None and open_connections > limit:
            self._over_limit.add(connection)
            self.refused_connections += 1

    def connection_lost(self, connection: Any) -> None:
        self._over_limit.discard(connection)

    def over_limit(self, connection: Any) -> bool:
        return bool(self._over_limit) and connection in self._over_limit

    def refuses(self, connection: Any) -> bool:
        """Whether a new request on ``connection`` is refused now."""
        return self.over_limit(connection) or self.overloaded()

    # -- lag ------------------------------------------------------------------

    def overloaded(self) -> bool:
        """Whether new work is refused now because the loop is late."""
        limit = self.settings.max_loop_lag
        return limit is not None and self.lag.now() > limit

    def metrics(self) -> dict[str, Any]:
        """The figures, JSON-able (lags in milliseconds)."""
        return {
            'loop_lag_ms': round(self.lag.now() * 1000, 1),
            'loop_lag_worst_ms': round(self.lag.worst * 1000, 1),
            'max_loop_lag_ms': (
                None
                if self.settings.max_loop_lag is None
                else self.settings.max_loop_lag * 1000
            ),
            'worker_connections': self.worker_connections,
            'refused_connections': self.refused_connections,
            'refused_requests': self.refused_requests,
            'refused_websockets': self.refused_websockets,
        }


_worker_admission: Admission | None = None


def worker_admission() -> Admission | None:
    """This worker process's :class:`Admission`, once its server started."""
    return _worker_admission


def set_worker_admission(admission: Admission | None) -> None:
    global _worker_admission
    _worker_admission = admission
