"""Tick-time metrics of one room: how long ticks take, how many start late.

The room records, for every tick, how late it started against its
schedule and how long it ran::

    >>> metrics = TickMetrics(late_threshold=0.005)
    >>> metrics.record(lateness=0.001, duration=0.002)
    >>> metrics.record(lateness=0.009, duration=0.004)
    >>> metrics.ticks, metrics.late_ticks, metrics.late_share
    (2, 1, 0.5)
    >>> round(metrics.percentile(99) * 1000, 3)
    4.0

A tick's duration is its own work: applying inputs, the bots, ``step``,
the snapshot and its delta, the JSON encoding.  The broadcast that
follows is awaited outside it: while it waits, other rooms and
connections run, and their time is not this tick's.  Lateness shows the
rest: a loop kept busy (by other rooms, or a starved process) starts
ticks late.

Durations are kept in a fixed-size window (the last ``window`` ticks), so
the percentiles are recent and the memory is bounded.
"""

from __future__ import annotations

from collections import deque
from typing import Any

__all__ = ['TickMetrics']


class TickMetrics:
    """Counters and a window of recent tick durations (seconds)."""

    def __init__(self, late_threshold: float = 0.005, window: int = 2000) -> None:
        #: A tick starting later than this after its deadline is late.
        self.late_threshold = late_threshold
        self.ticks = 0
        self.late_ticks = 0
        #: Ticks not run at all because the loop fell a whole period behind.
        self.skipped_ticks = 0
        #: Bytes of state messages sent, summed over the players they reached.
        self.bytes_sent = 0
        self.max_duration = 0.0
        self.durations: deque[float] = deque(maxlen=window)

    def record(self, lateness: float, duration: float) -> None:
        self.ticks += 1
        if lateness > self.late_threshold:
            self.late_ticks += 1
        self.durations.append(duration)
        self.max_duration = max(self.max_duration, duration)

    @property
    def late_share(self) -> float:
        """Late ticks over all ticks (0 before the first tick)."""
        return self.late_ticks / self.ticks if self.ticks else 0.0

    def percentile(self, p: float) -> float:
        """The ``p``-th percentile of the recent tick durations (0 if none)."""
        if not self.durations:
            return 0.0
        ordered = sorted(self.durations)
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
        return ordered[index]

    def as_dict(self) -> dict[str, Any]:
        """The figures, JSON-able (durations in milliseconds)."""
        return {
            'ticks': self.ticks,
            'late_ticks': self.late_ticks,
            'late_share': self.late_share,
            'skipped_ticks': self.skipped_ticks,
            'tick_ms_p50': self.percentile(50) * 1000,
            'tick_ms_p99': self.percentile(99) * 1000,
            'tick_ms_max': self.max_duration * 1000,
            'bytes_sent': self.bytes_sent,
        }
