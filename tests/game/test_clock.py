"""The tick clock, driven by a made-up time source (no loop, no sleeping).

The real clock's test is ``test_room.py``'s
``test_ticks_follow_the_clock_without_drift``.
"""

from __future__ import annotations

import pytest

from aiotao.game.clock import TickClock


class FakeTime:
    """A time source a test moves by hand; ``sleep`` only advances it."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


def run(clock: TickClock, time: FakeTime, work: list[float]) -> list[tuple[float, int]]:
    """Tick ``len(work)`` times as the room does, each tick taking ``work[i]`` s.

    Returns each tick's start and the periods skipped before it.
    """
    ticks = []
    for took in work:
        time.sleep(clock.next_deadline() - time())
        woke = clock.woke(time())
        ticks.append((round(woke.started, 6), woke.skipped))
        time.now += took
    return ticks


def test_ticks_fall_on_absolute_deadlines_without_drift() -> None:
    time = FakeTime(100.013)
    clock = TickClock(0.05, now=time())
    # each tick's work takes part of the period: the next one is still on time
    ticks = run(clock, time, [0.01, 0.04, 0.0, 0.049, 0.02])
    assert ticks == [
        (100.05, 0),
        (100.1, 0),
        (100.15, 0),
        (100.2, 0),
        (100.25, 0),
    ]


def test_the_phase_staggers_the_rooms_over_the_period() -> None:
    time = FakeTime(7.0)
    first = TickClock(0.1, phase=0.0, now=time())
    third = TickClock(0.1, phase=0.5, now=time())
    assert first.next_deadline() == pytest.approx(7.1)
    assert third.next_deadline() == pytest.approx(7.05)
    # a phase of 1 is a phase of 0
    assert TickClock(0.1, phase=1.0, now=7.0).phase == 0.0


def test_the_first_tick_is_the_first_deadline_after_the_start() -> None:
    assert TickClock(0.5, now=2.0).next_deadline() == 2.5
    assert TickClock(0.5, phase=0.5, now=2.0).next_deadline() == 2.25
    assert TickClock(0.5, phase=0.5, now=2.3).next_deadline() == 2.75
    woke = TickClock(0.5, now=2.0).woke(2.5)  # (not woken yet: a period late)
    assert woke.skipped == 1


def test_a_stall_skips_the_missed_ticks_and_counts_them() -> None:
    time = FakeTime(0.0)
    clock = TickClock(0.1, now=time())
    # the second tick's work stalls the process for 0.35 s: the ticks of
    # 0.3 and 0.4 are skipped, the one of 0.5 runs late, then on time again
    ticks = run(clock, time, [0.0, 0.35, 0.0, 0.0])
    assert ticks == [(0.1, 0), (0.2, 0), (0.55, 2), (0.6, 0)]


def test_a_tick_late_by_less_than_a_period_is_not_skipped() -> None:
    clock = TickClock(0.1, now=0.0)
    clock.next_deadline()
    woke = clock.woke(0.199)
    assert woke.skipped == 0
    assert woke.lateness == pytest.approx(0.099)
    assert clock.next_deadline() == pytest.approx(0.2)  # (due at once)


def test_the_period_is_positive() -> None:
    with pytest.raises(ValueError, match='a tick period is positive, not 0'):
        TickClock(0, now=0.0)
