"""Per-connection rate limits for websocket messages (a token bucket).

A client may send ``rate`` messages per second on average, and up to
``burst`` at once after a quiet spell.  Messages over the limit are refused
(the client gets a ``rate_limited`` error); a client that keeps sending
while refused is flooding, and after ``close_after`` refusals in a row its
connection is closed with 1008 (policy violation)::

    router = MessageRouter(rate_limit=RateLimit(rate=5, burst=10, close_after=20))

``close_after=0`` closes at the first message over the limit (a game, where
a well-behaved client never exceeds its input rate).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ['Bucket', 'RateLimit']


@dataclass(frozen=True, slots=True)
class RateLimit:
    """How many messages a connection may send.

    >>> RateLimit(rate=0)
    Traceback (most recent call last):
    ...
    ValueError: RateLimit(rate=0): rate must be > 0 messages per second
    """

    #: messages per second, on average
    rate: float
    #: messages at once (default: one second's worth, at least 1)
    burst: int | None = None
    #: refusals in a row before the connection is closed (``None``: never)
    close_after: int | None = 50

    def __post_init__(self) -> None:
        if not self.rate > 0:
            raise ValueError(
                f'RateLimit(rate={self.rate}): rate must be > 0 messages per second'
            )
        if self.burst is not None and self.burst < 1:
            raise ValueError(f'RateLimit(burst={self.burst}): burst must be >= 1')
        if self.close_after is not None and self.close_after < 0:
            raise ValueError(
                f'RateLimit(close_after={self.close_after}): must be >= 0 or None'
            )

    @property
    def capacity(self) -> float:
        return float(self.burst if self.burst is not None else max(1, int(self.rate)))

    def bucket(self, clock: Callable[[], float] = time.monotonic) -> Bucket:
        """A fresh bucket for one connection."""
        return Bucket(self, clock)


class Bucket:
    """One connection's allowance.

    >>> now = [0.0]
    >>> bucket = RateLimit(rate=1, burst=2).bucket(clock=lambda: now[0])
    >>> [bucket.take() for _ in range(3)]
    [True, True, False]
    >>> now[0] = 1.0
    >>> bucket.take()
    True
    """

    __slots__ = ('_clock', '_tokens', '_updated', 'limit', 'refused_in_a_row')

    def __init__(self, limit: RateLimit, clock: Callable[[], float]) -> None:
        self.limit = limit
        self._clock = clock
        self._tokens = limit.capacity
        self._updated = clock()
        self.refused_in_a_row = 0

    def take(self) -> bool:
        """Spend one message; ``False`` if the connection is over its limit."""
        now = self._clock()
        elapsed = now - self._updated
        self._updated = now
        self._tokens = min(
            self.limit.capacity, self._tokens + elapsed * self.limit.rate
        )
        # (the epsilon: 0.1 s at 10/s is 0.9999... tokens in floating point)
        if self._tokens >= 1.0 - 1e-9:
            self._tokens = max(0.0, self._tokens - 1.0)
            self.refused_in_a_row = 0
            return True
        self.refused_in_a_row += 1
        return False

    @property
    def flooding(self) -> bool:
        """More refusals in a row than the limit tolerates."""
        close_after = self.limit.close_after
        return close_after is not None and self.refused_in_a_row > close_after
