"""The token bucket behind the per-connection message rate limit."""

from __future__ import annotations

import pytest

from aiotao.websocket.ratelimit import RateLimit


class Clock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_passes_then_the_rate_holds() -> None:
    clock = Clock()
    bucket = RateLimit(rate=10, burst=5).bucket(clock)
    assert [bucket.take() for _ in range(6)] == [True] * 5 + [False]
    clock.now += 0.1  # one message's worth at 10/s
    assert [bucket.take(), bucket.take()] == [True, False]


def test_a_quiet_spell_refills_only_up_to_the_burst() -> None:
    clock = Clock()
    bucket = RateLimit(rate=10, burst=3).bucket(clock)
    clock.now += 60
    assert sum(bucket.take() for _ in range(10)) == 3


def test_the_default_burst_is_one_seconds_worth() -> None:
    bucket = RateLimit(rate=4).bucket(Clock())
    assert sum(bucket.take() for _ in range(10)) == 4
    slow = RateLimit(rate=0.5).bucket(Clock())
    assert [slow.take(), slow.take()] == [True, False]


def test_flooding_is_refusals_in_a_row_past_close_after() -> None:
    clock = Clock()
    bucket = RateLimit(rate=1, burst=1, close_after=2).bucket(clock)
    assert bucket.take()
    assert not bucket.take() and not bucket.take() and not bucket.flooding
    assert not bucket.take() and bucket.flooding
    clock.now += 1
    assert bucket.take() and not bucket.flooding  # an allowed message resets it


def test_close_after_zero_floods_at_the_first_refusal() -> None:
    bucket = RateLimit(rate=1, burst=1, close_after=0).bucket(Clock())
    assert bucket.take()
    assert not bucket.take() and bucket.flooding


def test_none_never_floods() -> None:
    bucket = RateLimit(rate=1, close_after=None).bucket(Clock())
    for _ in range(1000):
        bucket.take()
    assert not bucket.flooding


@pytest.mark.parametrize(
    ('kwargs', 'message'),
    [
        ({'rate': 0}, 'rate must be > 0'),
        ({'rate': -1}, 'rate must be > 0'),
        ({'rate': 1, 'burst': 0}, 'burst must be >= 1'),
        ({'rate': 1, 'close_after': -1}, 'must be >= 0 or None'),
    ],
)
def test_bad_limits_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RateLimit(**kwargs)  # type: ignore[arg-type]
