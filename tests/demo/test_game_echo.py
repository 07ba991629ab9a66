"""The demo's UDP game-state echo: what each datagram gets back."""

from __future__ import annotations

from aiotao_demo.game_echo import MAX_DATAGRAM, reply_to


def test_a_state_comes_back_with_the_server_clock() -> None:
    assert reply_to(b'{"player": "ann", "x": 3}', 12.5, 99) == {
        'state': {'player': 'ann', 'x': 3},
        'server_time': 12.5,
        'pid': 99,
    }


def test_bad_datagrams_get_an_error() -> None:
    assert reply_to(b'\xff', 0, 1)['error'].startswith('not JSON')
    assert reply_to(b'"text"', 0, 1) == {'error': 'expected a JSON object, got str'}
    big = b'{"x": "' + b'y' * MAX_DATAGRAM + b'"}'
    assert reply_to(big, 0, 1) == {
        'error': f'datagram of {len(big)} bytes is over the {MAX_DATAGRAM}-byte limit'
    }
