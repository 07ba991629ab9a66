"""Room names."""

from __future__ import annotations

import pytest

from aiotao.chat.rooms import MAX_ROOM_LENGTH, group_name, valid_room


@pytest.mark.parametrize(
    'name', ['lobby', 'a', 'Room-2', 'team_a.ops', 'x' * MAX_ROOM_LENGTH]
)
def test_valid_rooms(name: str) -> None:
    assert valid_room(name)


@pytest.mark.parametrize(
    'name',
    [
        '',
        '-lead',
        '.hidden',
        '../etc',
        'a b',
        'a/b',
        'caf\u00e9',
        'x' * (MAX_ROOM_LENGTH + 1),
        'a\n',
    ],
)
def test_invalid_rooms(name: str) -> None:
    assert not valid_room(name)


def test_rooms_have_groups_of_their_own() -> None:
    assert group_name('lobby') != 'lobby'
    assert group_name('a') != group_name('b')
