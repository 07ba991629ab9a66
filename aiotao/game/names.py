"""Names for players who did not choose one: two words, readable, rarely twice.

>>> import random
>>> random_name(random.Random(7))
'lucky eagle'
"""

from __future__ import annotations

import random

__all__ = ['random_name']

ADJECTIVES = (
    'brave', 'brisk', 'calm', 'clever', 'eager', 'fuzzy', 'gentle', 'happy',
    'jolly', 'keen', 'lucky', 'merry', 'nimble', 'plucky', 'quick', 'quiet',
    'rapid', 'shy', 'sly', 'snappy', 'sunny', 'swift', 'tidy', 'witty',
)  # fmt: skip
ANIMALS = (
    'badger', 'bee', 'crane', 'dingo', 'eagle', 'ferret', 'fox', 'gecko',
    'heron', 'ibis', 'koala', 'lemur', 'lynx', 'marten', 'newt', 'otter',
    'panda', 'puffin', 'quail', 'raven', 'seal', 'stoat', 'tapir', 'wombat',
)  # fmt: skip
_RANDOM = random.SystemRandom()


def random_name(rng: random.Random | None = None) -> str:
    """``adjective animal``, e.g. ``swift otter`` (576 of them)."""
    rng = rng or _RANDOM
    return f'{rng.choice(ADJECTIVES)} {rng.choice(ANIMALS)}'
