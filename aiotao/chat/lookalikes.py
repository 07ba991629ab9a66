"""When two nicknames look the same: the skeleton both fold to.

A nickname is unique in a room up to case and look-alikes, so that nobody
can pass for someone else with ``ADA``, ``\u0410da`` (a Cyrillic A), ``Ada.``
or ``ad a``.  :func:`skeleton` folds a name to what it looks like:
compatibility forms (fullwidth letters, ligatures) to their plain
letters, accents dropped, case folded, Cyrillic and Greek letters that
look Latin to those Latin letters, the digits and letters read alike
(``0``/``o``, ``1``/``l``/``i``, ``rn``/``m``) to one of them, and the
separators (spaces and ``_ - . '``) left out.

>>> skeleton('Ada Lovelace') == skeleton('ada_lovelace') == skeleton('ADA.LOVELACE')
True
>>> skeleton('\\u0410da') == skeleton('Ada')        # a Cyrillic A
True
>>> skeleton('B0B') == skeleton('bob'), skeleton('Zoë') == skeleton('zoe')
(True, True)
>>> skeleton('ada') == skeleton('eda')
False

It is a fold for comparing, never shown: a person keeps the name they typed.
"""

from __future__ import annotations

import unicodedata

__all__ = ['skeleton']

#: Letters of other scripts (after case folding) that look like a Latin
#: letter, and digits and letters read alike; from Unicode's confusables
#: for the letters people type (UTS #39), kept short on purpose.
_PAIRS_OF_SCRIPTS = (
    # Cyrillic
    (
        '\u0430\u0432\u0501\u0435\u0451\u04bb\u043d\u0456\u0457\u0458\u043a\u043c\u043e\u0440\u051b\u0433\u0455\u0442\u0443\u051d\u0445\u04af\u0441\u044c\u043f\u0437',
        'abdeehhlljkmopqrstywxycbn3',
    ),
    # Greek
    (
        '\u03b1\u03b2\u03b5\u03b6\u03b7\u03b9\u03ba\u03bc\u03bd\u03bf\u03c1\u03c4\u03c5\u03c7\u03b3\u03c9',
        'abezhlkuvoptuxyw',
    ),
    # Latin letters that do not decompose
    ('\u0142\u00f8\u0111\u0127\u0131\u0140\u0261', 'lodhllg'),
    # read alike
    ('01i5|', 'ollsl'),
)
_LOOKALIKES = str.maketrans(
    ''.join(source for source, _ in _PAIRS_OF_SCRIPTS),
    ''.join(target for _, target in _PAIRS_OF_SCRIPTS),
    " _-.'",  # separators: left out
)
_PAIRS = (('rn', 'm'), ('vv', 'w'))


def skeleton(name: str) -> str:
    """What ``name`` looks like, for comparing with other names."""
    decomposed = unicodedata.normalize('NFKD', name)
    letters = ''.join(c for c in decomposed if not unicodedata.combining(c))
    folded = letters.casefold().translate(_LOOKALIKES)
    for pair, alike in _PAIRS:
        folded = folded.replace(pair, alike)
    return folded
