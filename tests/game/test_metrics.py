"""Tick metrics: late ticks and percentiles."""

from __future__ import annotations

from aiotao.game.metrics import TickMetrics


def test_late_share_and_p99() -> None:
    metrics = TickMetrics(late_threshold=0.005)
    for n in range(100):
        metrics.record(lateness=0.006 if n < 3 else 0.001, duration=n / 1000)
    assert metrics.late_ticks == 3
    assert metrics.late_share == 0.03
    assert metrics.percentile(99) == 0.098
    figures = metrics.as_dict()
    assert figures['tick_ms_max'] == 99
    assert figures['ticks'] == 100


def test_the_window_keeps_recent_ticks_only() -> None:
    metrics = TickMetrics(window=10)
    for n in range(100):
        metrics.record(lateness=0, duration=1.0 if n < 90 else 0.001)
    assert metrics.percentile(99) == 0.001
    assert metrics.max_duration == 1.0
