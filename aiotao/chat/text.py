"""What a chat message's text may hold: cleaned, then bounded.

Text reaches other people's screens, so characters that could disguise it
are removed before it is stored: control characters (other than newline
and tab) and the Unicode bidirectional overrides that can make a message
read backwards.  Line ends become ``\\n``; surrounding whitespace goes.
HTML is *not* escaped here: the text is stored as typed and pages render
it as text (``textContent``), which is where escaping belongs.

>>> clean_text('  hi\\r\\nthere\\x00\\x1b[31m  ')
'hi\\nthere[31m'
>>> clean_text('<b>bold</b>')
'<b>bold</b>'
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ['clean_text']

#: Bidirectional embeddings, overrides and isolates (the "Trojan source" set).
_BIDI_CONTROLS = frozenset('\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069')
_KEPT_CONTROLS = frozenset('\n\t')
_LINE_ENDS = re.compile(r'\r\n?|[\u2028\u2029\x85]')


def _allowed(character: str) -> bool:
    if character in _KEPT_CONTROLS:
        return True
    if character in _BIDI_CONTROLS:
        return False
    # Cc: C0 and C1 controls; Cs: lone surrogates (not encodable as UTF-8)
    return unicodedata.category(character) not in ('Cc', 'Cs')


def clean_text(text: str) -> str:
    """``text`` without control characters, with ``\\n`` line ends, stripped."""
    text = _LINE_ENDS.sub('\n', text)
    if not all(_allowed(character) for character in text):
        text = ''.join(character for character in text if _allowed(character))
    return text.strip()
