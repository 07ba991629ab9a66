"""Checkpoints: a room written down, resumed elsewhere, or refused with a reason.

The format is checked field by field; the arena's state survives a JSON
round trip; a room resumed from a checkpoint has the same id, seats,
tokens, scores and tick; and a lobby asked for a dead room's successor
resumes it from the directory's checkpoint (one worker only, however
many ask), or, for a checkpoint it cannot use, opens a fresh room and
logs why, without crashing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from dataclasses import replace
from typing import Any

import pytest
from aiotao_demo.arena import Arena, ArenaInput

from aiotao.game.checkpoint import Checkpoint, CheckpointError, SeatRecord
from aiotao.game.directory import (
    MemoryDirectory,
    RoomDirectory,
    RoomInfo,
)
from aiotao.game.lobby import Lobby
from aiotao.game.room import Room
from aiotao.game.rules import NotCheckpointable, Player
from aiotao.game.settings import GameSettings
from aiotao.websocket.groups import Groups, InMemoryBackend
from tests.game.rules import Counters


class Link:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.detached = False

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text))

    def detach(self) -> None:
        self.detached = True


async def nowhere(group: str, text: str) -> None:
    pass


def arena_checkpoint(**changes: Any) -> Checkpoint:
    arena = Arena(random.Random(1))
    arena.on_join(Player('p1', 'ana'))
    checkpoint = Checkpoint(
        room='r1',
        owner='dead-worker',
        rules='aiotao_demo.arena.Arena',
        version=Arena.checkpoint_version,
        tick=100,
        next_player=2,
        code=None,
        bots_yield=True,
        seats=[SeatRecord('p1', 'ana', False, 'r1.ana-token')],
        state=arena.checkpoint(),
        saved_at=1.0,
    )
    return replace(checkpoint, **changes)


# -- the format ----------------------------------------------------------------


def test_a_checkpoint_survives_json() -> None:
    checkpoint = arena_checkpoint()
    assert Checkpoint.from_json(checkpoint.to_json()) == checkpoint


@pytest.mark.parametrize(
    ('text', 'reason'),
    [
        ('{"room": "r1", "owner": ', 'not JSON'),
        ('[1, 2]', 'not a JSON object'),
        ('{"room": "r1"}', "no field 'owner'"),
        (
            arena_checkpoint().to_json().replace('"tick":100', '"tick":"100"'),
            "tick = '100' is of the wrong type",
        ),
        (
            arena_checkpoint().to_json().replace('"bot":false', '"bot":"no"'),
            'a seat is',
        ),
        (arena_checkpoint().to_json().replace('"format":1', '"format":9'), 'format 9'),
    ],
)
def test_a_corrupt_checkpoint_is_refused_saying_why(text: str, reason: str) -> None:
    with pytest.raises(CheckpointError, match=reason):
        Checkpoint.from_json(text)


def test_a_checkpoint_of_other_rules_or_version_is_refused() -> None:
    with pytest.raises(CheckpointError, match=r'this worker plays tests\.game\.rules'):
        arena_checkpoint().check_rules(Counters)
    with pytest.raises(CheckpointError, match='checkpoint_version 0, this worker'):
        arena_checkpoint(version=0).check_rules(Arena)


# -- the rules -----------------------------------------------------------------


def test_rules_without_checkpoints_say_so_naming_their_class() -> None:
    rules = Counters(random.Random(1))
    assert not Counters.can_checkpoint() and Arena.can_checkpoint()
    with pytest.raises(NotCheckpointable, match=r'tests\.game\.rules\.Counters does'):
        rules.checkpoint()
    with pytest.raises(NotCheckpointable, match='Counters'):
        rules.restore({})


def test_the_arena_resumes_exactly_where_it_was_written_down() -> None:
    arena = Arena(random.Random(1))
    ana, bot = Player('p1', 'ana'), Player('p2', 'bot 2', bot=True)
    arena.on_join(ana)
    arena.on_join(bot)
    for _tick in range(60):
        arena.on_input(ana, ArenaInput(dx=1, fire=True, aim=0.3, seq=_tick))
        bot_input = arena.bot_input(bot)
        if bot_input is not None:
            arena.on_input(bot, bot_input)
        arena.step(0.05)
    assert arena.bullets  # in flight: they are state too
    copy = Arena(random.Random(99))
    copy.restore(json.loads(json.dumps(arena.checkpoint())))
    assert copy.snapshot() == arena.snapshot()
    # and the game goes on the same way from there
    for rules in (arena, copy):
        rules.on_input(ana, ArenaInput(dy=1))
        rules.step(0.05)
    assert copy.snapshot() == arena.snapshot()


@pytest.mark.parametrize(
    'damage',
    [
        lambda state: state['ships']['p1'].pop('score'),
        lambda state: state['ships']['p1'].update(hp='three'),
        lambda state: state.pop('time'),
        lambda state: state.update(feed=[[1.0, 'only two']]),
    ],
)
def test_the_arena_refuses_a_state_of_another_shape(damage: Any) -> None:
    state = arena_checkpoint().state
    damage(state)
    arena = Arena(random.Random(1))
    with pytest.raises((KeyError, ValueError, TypeError)):
        arena.restore(state)
    assert arena.ships == {}  # nothing half restored


# -- the room ------------------------------------------------------------------


async def test_a_resumed_room_has_its_seats_tokens_scores_and_tick() -> None:
    room = Room(Arena(random.Random(1)), id='r1', broadcast=nowhere)
    link = Link()
    ana = await room.join('ana', link)
    room.add_bots(2)
    room.rules.ships[ana.player.id].score = 7  # type: ignore[attr-defined]
    room.tick = 321
    checkpoint = Checkpoint.from_json(room.checkpoint('w1').to_json())

    resumed = Room.resume(checkpoint, Arena(random.Random(2)), broadcast=nowhere)
    assert (resumed.id, resumed.tick) == ('r1', 321)
    assert {id: (s.player.name, s.player.bot) for id, s in resumed.seats.items()} == {
        'p1': ('ana', False),
        'p2': ('bot 2', True),
        'p3': ('bot 3', True),
    }
    # ana is away until she comes back with her token
    assert resumed.rules.ships['p1'].away  # type: ignore[attr-defined]
    assert resumed.seats['p1'].disconnected_at is not None
    again = Link()
    seat = await resumed.rejoin(ana.token, again)
    assert seat.player.id == 'p1'
    assert not resumed.rules.ships['p1'].away  # type: ignore[attr-defined]
    assert resumed.rules.ships['p1'].score == 7  # type: ignore[attr-defined]
    [welcome] = again.sent
    assert welcome['rejoined'] and 'resumed' in welcome
    # a new player gets a new id, not one of the seats'
    newcomer = await resumed.join('bob', Link())
    assert newcomer.player.id == 'p4'


async def test_a_room_whose_rules_cannot_be_written_down_says_so() -> None:
    room = Room(Counters(random.Random(1)), id='r1', broadcast=nowhere)
    with pytest.raises(NotCheckpointable, match='Counters'):
        room.checkpoint('w1')


# -- the lobby: resume, or a fresh successor and why ---------------------------


SETTINGS = {
    'aiotao.game.rules': 'aiotao_demo.arena.Arena',
    'aiotao.game.checkpoint_interval': '0.2',
    'aiotao.game.lease': '2',
}


def lobby_on(directory: RoomDirectory, groups: Groups, **settings: str) -> Lobby:
    return Lobby(
        GameSettings.from_settings({**SETTINGS, **settings}), groups, directory
    )


async def test_a_dead_workers_room_resumes_once_from_its_checkpoint(
    directory: RoomDirectory,
) -> None:
    groups = Groups(InMemoryBackend())
    owner, first, second = (lobby_on(directory, groups) for _ in range(3))
    try:
        room = await owner.create(bots=2)
        link = Link()
        ana = await room.join('ana', link)
        room.rules.ships[ana.player.id].score = 5  # type: ignore[attr-defined]
        await asyncio.sleep(0.5)  # a checkpoint or two
        dead = owner.info(room)
        text = await directory.load_checkpoint(room.id)
        assert text is not None
        # the owner is killed: it stops, and what it wrote stays (its
        # entry until its lease ends), as after a kill -9
        await owner.close()
        await directory.publish(dead, lease=2)
        await directory.save_checkpoint(room.id, text, ttl=60)

        # two workers notice at once: one resumes it, both get that room
        a, b = await asyncio.gather(
            first.successor_of(room.id, dead), second.successor_of(room.id, dead)
        )
        assert a == b and a.id == room.id and a.owner != dead.owner
        resumer = first if first.worker == a.owner else second
        resumed = resumer.rooms[room.id]
        assert not (second if resumer is first else first).rooms
        seat = await resumed.rejoin(ana.token, Link())
        assert seat.player.id == ana.player.id
        assert resumed.rules.ships[seat.player.id].score == 5  # type: ignore[attr-defined]
        assert resumed.bots == 2
        # a late worker finds it too, and forgetting the dead owner's
        # entry does not remove the resumed room's
        late = lobby_on(directory, groups)
        await late.forget(room.id, dead.owner)
        assert await late.successor_of(room.id, dead) == a
        assert await directory.get(room.id) == a
    finally:
        for lobby in (first, second):
            await lobby.close()


@pytest.mark.parametrize(
    ('corrupt', 'reason'),
    [
        (lambda c: '{"room": "r1", "tick": ', 'checkpoint is not JSON'),
        (
            lambda c: replace(c, version=c.version + 1).to_json(),
            'checkpoint_version 2, this worker has version 1',
        ),
        (
            lambda c: replace(c, rules='tests.game.rules.Counters').to_json(),
            'written by tests.game.rules.Counters',
        ),
        (
            lambda c: replace(c, state={'ships': 'none'}).to_json(),
            'restoring its checkpoint failed',
        ),
    ],
)
async def test_a_bad_checkpoint_gives_a_fresh_successor_and_a_reason(
    directory: RoomDirectory,
    caplog: pytest.LogCaptureFixture,
    corrupt: Any,
    reason: str,
) -> None:
    groups = Groups(InMemoryBackend())
    lobby = lobby_on(directory, groups)
    dead = RoomInfo('r1', 'dead-worker', 1, 10, bots=1)
    await directory.publish(dead, lease=60)
    await directory.save_checkpoint('r1', corrupt(arena_checkpoint()), ttl=60)
    try:
        with caplog.at_level(logging.WARNING, logger='aiotao.game.lobby'):
            successor = await lobby.successor_of('r1', dead)
        assert successor.id != 'r1' and successor.owner == lobby.worker
        assert lobby.rooms[successor.id].bots == 1  # as the dead room had
        assert 'r1' not in lobby.rooms
        assert reason in caplog.text
        assert 'replaced by a fresh room, not resumed' in caplog.text
        # every worker asking gets that same room
        other = lobby_on(directory, groups)
        assert (await other.successor_of('r1', dead)).id == successor.id
        assert not other.rooms
    finally:
        await lobby.close()


async def test_without_checkpoints_a_dead_room_is_replaced_saying_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    directory = MemoryDirectory()
    lobby = lobby_on(
        directory, Groups(InMemoryBackend()), **{'aiotao.game.checkpoint_interval': '0'}
    )
    try:
        with caplog.at_level(logging.WARNING, logger='aiotao.game.lobby'):
            successor = await lobby.successor_of('r1', None)
        assert successor.id != 'r1'
        assert 'checkpoint_interval is 0' in caplog.text
    finally:
        await lobby.close()


async def test_an_ended_room_leaves_no_checkpoint_behind() -> None:
    directory = MemoryDirectory()
    lobby = lobby_on(
        directory, Groups(InMemoryBackend()), **{'aiotao.game.empty_timeout': '0.1'}
    )
    try:
        room = await lobby.create()
        await room.join('ana', Link())
        await asyncio.sleep(0.3)
        assert await directory.load_checkpoint(room.id) is not None
        room.leave('p1')
        assert room.task is not None
        await asyncio.wait_for(asyncio.shield(room.task), 2)
        await asyncio.sleep(0.1)  # (the lobby's watcher, after the task)
        assert await directory.load_checkpoint(room.id) is None
        assert not await lobby.can_recover(room.id)
    finally:
        await lobby.close()


async def test_a_stalled_owner_closes_its_room_once_another_worker_resumed_it(
    directory: RoomDirectory, caplog: pytest.LogCaptureFixture
) -> None:
    groups = Groups(InMemoryBackend())
    stalled = lobby_on(directory, groups, **{'aiotao.game.lease': '1'})
    resumer = lobby_on(directory, groups, **{'aiotao.game.lease': '1'})
    try:
        room = await stalled.create()
        ana = Link()
        await room.join('ana', ana)
        await asyncio.sleep(0.3)  # a checkpoint
        # the owner fell silent for a moment: another worker resumed the room
        resumed = await resumer.successor_of(room.id, stalled.info(room))
        assert resumed.id == room.id and resumed.owner == resumer.worker
        # the stalled owner's next refresh finds it and closes its copy
        with caplog.at_level(logging.WARNING, logger='aiotao.game.lobby'):
            assert room.task is not None
            await asyncio.wait([room.task], timeout=3)
        assert room.closed and room.task.done()
        assert 'was resumed by' in caplog.text
        assert ana.sent[-1]['type'] == 'room_closed'
        assert 'moved to another server' in ana.sent[-1]['reason']
        await asyncio.sleep(0.1)  # (the stalled lobby's watcher)
        # the resumed room is untouched: its entry, its checkpoints
        assert (await directory.get(room.id)) == resumer.info(resumer.rooms[room.id])
        text = await directory.load_checkpoint(room.id)
        assert text is not None
        assert Checkpoint.from_json(text).owner == resumer.worker
    finally:
        await stalled.close()
        await resumer.close()
