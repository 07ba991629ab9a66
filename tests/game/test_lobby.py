"""The lobby of a process: rooms it opens, their end, the room cap."""

from __future__ import annotations

import asyncio
import itertools
import json

import pytest

from aiotao.game.encoding import state_group as encoding_state_group
from aiotao.game.errors import NoSuchRoom, TooManyRooms
from aiotao.game.lobby import CODE_ALPHABET, Lobby
from aiotao.game.relay import OwnerWatch
from aiotao.game.room import state_group
from aiotao.game.settings import GameSettings
from aiotao.websocket.groups import Groups, InMemoryBackend
from tests.game.app import ARENA


def make_lobby(**settings: str) -> Lobby:
    return Lobby(
        GameSettings.from_settings(
            {
                'aiotao.game.rules': ARENA,
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


class Link:
    """A player's link: its own messages are not what this test reads."""

    async def send(self, text: str) -> None:
        pass

    def detach(self) -> None:
        pass


class StateReader:
    """A member of a room's state group: the types of the state messages."""

    is_open = True

    def __init__(self) -> None:
        self.types: list[str] = []

    def send_nowait(self, data: str | bytes) -> bool:
        self.types.append(json.loads(data)['type'])
        return True


async def next_state(reader: StateReader, since: int) -> str:
    async with asyncio.timeout(2):
        while len(reader.types) <= since:
            await asyncio.sleep(0.01)
    return reader.types[since]


async def test_a_resync_sends_full_snapshots_for_owned_and_relayed_rooms() -> None:
    # two "workers" on one broker: the owner of a room, and one relaying to it
    groups = Groups(InMemoryBackend())
    settings = GameSettings.from_settings(
        {'aiotao.game.rules': ARENA, 'aiotao.game.keyframe_interval': '600'}
    )
    owner, relay = Lobby(settings, groups), Lobby(settings, groups)
    room = await owner.create()
    await room.join('ana', Link())
    reader = StateReader()
    await groups.join(state_group(room.id), reader)
    await next_state(reader, 1)
    assert reader.types[1:] == ['delta'] * (len(reader.types) - 1)  # deltas only

    # the owner's own broker connection came back
    since = len(reader.types)
    await owner.resync(frozenset({state_group(room.id), 'aiotao.chat:lobby'}))
    assert await next_state(reader, since) == 'snapshot'
    assert await next_state(reader, since + 1) == 'delta'
    # its players reading MessagePack are in a group of their own, the same room
    since = len(reader.types)
    await owner.resync(frozenset({encoding_state_group(room.id, 'msgpack')}))
    assert await next_state(reader, since) == 'snapshot'

    # the relaying worker's came back: it asks the owner, over the control group
    watch = OwnerWatch(timeout=2.0)
    await groups.join(state_group(room.id), watch)
    heard = watch.heard_at
    since = len(reader.types)
    await relay.resync(frozenset({state_group(room.id)}))
    assert await next_state(reader, since) == 'snapshot'
    # and gives the owner the time it may take to reconnect too
    assert watch.heard_at > heard
    await owner.close()
