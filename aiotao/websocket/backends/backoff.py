"""How long a backend waits before connecting again: exponential, capped, jittered.

Every worker of every machine loses the broker at the same moment; if they
all retried on the same schedule they would hit it together when it comes
back.  Each delay is therefore drawn between half and all of the
exponential step (the "equal jitter" of AWS's backoff article)::

    >>> backoff = Backoff(first=0.1, cap=5.0)
    >>> [round(backoff.step(n), 1) for n in range(8)]
    [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
    >>> 0.05 <= Backoff(first=0.1, cap=5.0).next() <= 0.1
    True
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ['Backoff']


@dataclass
class Backoff:
    """Delays for successive attempts; :meth:`reset` after a success."""

    #: The first delay, in seconds.
    first: float = 0.1
    #: No delay is longer than this.
    cap: float = 5.0
    attempts: int = 0
    random: random.Random = field(default_factory=random.Random, repr=False)

    def step(self, attempt: int) -> float:
        """The delay before jitter for attempt number ``attempt`` (from 0)."""
        # min() on the exponent first: 2 ** 1000 is a float overflow.
        return min(self.cap, self.first * 2.0 ** min(attempt, 64))

    def next(self) -> float:
        """The delay before the next attempt."""
        step = self.step(self.attempts)
        self.attempts += 1
        return step / 2 + float(self.random.uniform(0, step / 2))

    def reset(self) -> None:
        self.attempts = 0
