"""What a message's text may hold."""

from __future__ import annotations

import pytest

from aiotao.chat.text import clean_text


@pytest.mark.parametrize(
    ('sent', 'kept'),
    [
        ('hello', 'hello'),
        ('  padded\t ', 'padded'),
        ('two\r\nlines\rhere', 'two\nlines\nhere'),
        ('bell\x07 null\x00 escape\x1b[2J', 'bell null escape[2J'),
        ('c1\x85\x9bcontrols', 'c1\ncontrols'),
        # a right-to-left override would make "exe.txt" read "txt.exe"
        ('file\u202etxt.exe', 'filetxt.exe'),
        ('isolate\u2066d\u2069', 'isolated'),
        # markup is text: it is escaped where it is shown, not here
        ('<script>alert(1)</script>', '<script>alert(1)</script>'),
        # emoji sequences keep their joiners
        (
            'family \U0001f468\u200d\U0001f469\u200d\U0001f467',
            'family \U0001f468\u200d\U0001f469\u200d\U0001f467',
        ),
        ('\x00\x01 \n ', ''),
    ],
)
def test_clean_text(sent: str, kept: str) -> None:
    assert clean_text(sent) == kept


def test_lone_surrogates_are_dropped() -> None:
    # json.loads accepts "\ud800"; it cannot be stored as UTF-8
    assert clean_text('a\ud800b') == 'ab'
    clean_text('a\ud800b').encode('utf-8')
