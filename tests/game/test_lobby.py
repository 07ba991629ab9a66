"""The lobby of a process: rooms it opens, their end, the room cap."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from aiotao.game.errors import NoSuchRoom, TooManyRooms
from aiotao.game.lobby import CODE_ALPHABET, Lobby
from aiotao.game.settings import GameSettings
from aiotao.websocket.groups import Groups, InMemoryBackend


def make_lobby(**settings: str) -> Lobby:
    return Lobby(
        GameSettings.from_settings(
            {
                'aiotao.game.empty_timeout': '0.1',
                **{f'aiotao.game.{k}': v for k, v in settings.items()},
            }
        ),
        Groups(InMemoryBackend()),
    )


async def test_rooms_open_are_found_and_end_when_empty() -> None:
    lobby = make_lobby()
    public = await lobby.create(bots=2)
    private = await lobby.create(private=True)
    assert private.code is not None and set(private.code) <= set(CODE_ALPHABET)
    assert (await lobby.quick_match()) == lobby.info(public)
    assert (await lobby.by_code(private.code.lower())).id == private.id
    with pytest.raises(NoSuchRoom):
        await lobby.by_code('ZZZZZ')
    # nobody joined: both end after the empty timeout, their tasks done
    async with asyncio.timeout(3):
        while lobby.rooms:
            await asyncio.sleep(0.02)
    assert public.task is not None and public.task.done()
    assert await lobby.quick_match() is None
    assert lobby.groups.members(f'aiotao.game.control.{public.id}') == frozenset()
    await lobby.close()


async def test_rooms_tick_at_staggered_phases() -> None:
    lobby = make_lobby()
    rooms = [await lobby.create() for _ in range(5)]
    phases = sorted(room.phase for room in rooms)
    gaps = [b - a for a, b in itertools.pairwise(phases)]
    assert min(gaps) > 0.1  # spread over the period, not piled up
    await lobby.close()


async def test_the_room_cap_is_enforced() -> None:
    lobby = make_lobby(max_rooms='2')
    await lobby.create()
    await lobby.create()
    with pytest.raises(TooManyRooms, match=r'aiotao\.game\.max_rooms'):
        await lobby.create()
    await lobby.close()


async def test_close_ends_every_room_and_leaves_no_task() -> None:
    lobby = make_lobby(empty_timeout='60')
    for _ in range(3):
        await lobby.create(bots=3)
    await lobby.close()
    assert lobby.rooms == {}
    assert not [t for t in asyncio.all_tasks() if 'game room' in t.get_name()]
