"""Reconnection delays: growing, capped, never in step across workers."""

from __future__ import annotations

import random

from aiotao.websocket.backends.backoff import Backoff


def test_delays_double_up_to_the_cap_with_jitter() -> None:
    backoff = Backoff(first=0.1, cap=2.0, random=random.Random(1))
    delays = [backoff.next() for _ in range(10)]
    steps = [min(2.0, 0.1 * 2**n) for n in range(10)]
    for delay, step in zip(delays, steps, strict=True):
        assert step / 2 <= delay <= step
    assert max(delays) <= 2.0
    backoff.reset()
    assert backoff.next() <= 0.1


def test_workers_do_not_retry_in_step() -> None:
    workers = [
        Backoff(first=0.1, cap=5.0, random=random.Random(seed)) for seed in range(8)
    ]
    for _ in range(6):
        assert len({round(worker.next(), 6) for worker in workers}) == 8


def test_a_long_outage_does_not_overflow() -> None:
    backoff = Backoff(first=0.1, cap=5.0)
    backoff.attempts = 10_000
    assert 2.5 <= backoff.next() <= 5.0
