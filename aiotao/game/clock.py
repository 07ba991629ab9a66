"""A room's tick clock: when each tick is due, and which ticks were missed.

A room ticks on absolute deadlines, ``period`` apart (``1 / tick_rate``),
at its ``phase`` of the period (the lobby staggers the rooms of a
process over it), so the schedule does not drift however long each tick
takes.  A process that stalled for a whole period or more does not run
the missed ticks back to back: it skips them, and says how many.

:class:`TickClock` never reads a clock nor sleeps: the time is passed
in, so it is tested with made-up times; :meth:`aiotao.game.room.Room.run`
reads the loop's clock and sleeps until :meth:`TickClock.next_deadline`,
then does the tick's work (the rules, the patches, the broadcast).

>>> clock = TickClock(period=0.05, phase=0.5, now=10.0)
>>> round(clock.next_deadline(), 3)          # mid-period, as the phase says
10.025
>>> woke = clock.woke(10.026)
>>> woke.started, round(woke.lateness, 3), woke.skipped
(10.026, 0.001, 0)
>>> round(clock.next_deadline(), 3)
10.075
>>> clock.woke(10.2).skipped                 # stalled: 10.125 and 10.175 skipped
2
>>> round(clock.next_deadline(), 3)
10.225
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ['TickClock', 'Wakeup']


@dataclass(frozen=True, slots=True)
class Wakeup:
    """A tick's start: when, how late after its deadline, how many periods skipped."""

    started: float
    lateness: float
    skipped: int


class TickClock:
    """The deadlines of a tick every ``period`` seconds, at ``phase`` (0 to 1) of it.

    ``now`` is the time the clock starts at: the first deadline is the
    first one at the phase after it.
    """

    def __init__(self, period: float, phase: float = 0.0, *, now: float) -> None:
        if period <= 0:
            raise ValueError(f'a tick period is positive, not {period!r}')
        self.period = period
        self.phase = phase % 1.0
        deadline = math.floor(now / period) * period + self.phase * period
        if deadline > now:
            deadline -= period  # (next_deadline adds a period)
        #: The deadline of the last tick (before the first: one period before it).
        self.deadline = deadline

    def next_deadline(self) -> float:
        """The next tick's deadline: sleep until then."""
        self.deadline += self.period
        return self.deadline

    def woke(self, now: float) -> Wakeup:
        """The tick starts at ``now``: how late it is, and the periods skipped.

        A whole period late or more (the process stalled), the missed
        deadlines are skipped, so the next one is in the future again.
        """
        lateness = now - self.deadline
        skipped = 0
        if lateness >= self.period:
            skipped = int(lateness // self.period)
            self.deadline += skipped * self.period
        return Wakeup(now, lateness, skipped)
