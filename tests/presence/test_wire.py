"""Presence messages: what one tracker sends, another reads; anything else is refused."""

from __future__ import annotations

import pytest

from aiotao.presence.wire import ForeignMessage, PresenceMessage, decode, encode


@pytest.mark.parametrize(
    'message',
    [
        PresenceMessage('hello', 'w1'),
        PresenceMessage('beat', 'w1', 7),
        PresenceMessage(
            'delta',
            'w1',
            8,
            changes=[
                ['+', 'lobby', 'ada', 'c1', {'nick': 'ada'}, 3],
                ['-', 'x', 'y', 'z'],
            ],
        ),
        PresenceMessage('sync', 'w2', to='w1'),
        PresenceMessage(
            'state', 'w1', 8, entries=[['lobby', 'ada', 'c1', {}, 3]], to='w2'
        ),
    ],
)
def test_round_trip(message: PresenceMessage) -> None:
    assert decode(encode(message)) == message


@pytest.mark.parametrize(
    ('text', 'problem'),
    [
        (b'\xff', 'not JSON'),
        ('[1]', 'no "p": 1'),
        ('{"p": 1, "op": "shout", "r": "w"}', 'unknown op'),
        ('{"p": 1, "op": "beat", "r": ""}', 'the sender'),
        ('{"p": 1, "op": "beat", "r": "w", "v": -1}', 'the version'),
        ('{"p": 1, "op": "beat", "r": "w", "v": true}', 'the version'),
        ('{"p": 1, "op": "delta", "r": "w", "v": 1, "c": {}}', 'the changes'),
        (
            '{"p": 1, "op": "delta", "r": "w", "v": 1, "c": [["+", "t", "k"]]}',
            'a change',
        ),
        (
            '{"p": 1, "op": "delta", "r": "w", "v": 1, "c": [["+", "t", "k", "r", [], 1]]}',
            'meta',
        ),
        (
            '{"p": 1, "op": "state", "r": "w", "v": 1, "e": [["t", "k", 1, {}, 1]]}',
            'a ref',
        ),
        ('{"p": 1, "op": "sync", "r": "w"}', 'names no replica'),
        ('{"p": 1, "op": "beat", "r": "' + 'w' * 201 + '", "v": 1}', 'the sender'),
    ],
)
def test_foreign_messages_are_refused_with_the_reason(
    text: str | bytes, problem: str
) -> None:
    with pytest.raises(ForeignMessage, match=problem):
        decode(text)
