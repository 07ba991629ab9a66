"""A room without sockets: the tick loop, inputs, seats, failures, the end."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import pytest

from aiotao.game.errors import BadToken, RoomClosed, RoomFull
from aiotao.game.room import Room
from tests.game.rules import Counters, Push


class Link:
    """A player's end of the room: what it was sent, whether it was let go."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.detached = False

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text))

    def detach(self) -> None:
        self.detached = True

    def of_type(self, type: str) -> list[dict[str, Any]]:
        return [message for message in self.sent if message['type'] == type]


class Group:
    """The state group: every broadcast, decoded."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def broadcast(self, group: str, text: str) -> None:
        self.messages.append(json.loads(text))


def make_room(group: Group, **options: Any) -> Room:
    options.setdefault('tick_rate', 50)
    return Room(
        Counters(random.Random(1)), id='r1', broadcast=group.broadcast, **options
    )


async def until(condition: Any, timeout: float = 3.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


async def test_ticks_follow_the_clock_without_drift() -> None:
    room = make_room(Group(), tick_rate=50)
    await room.join('ana', Link())
    room.start()
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.sleep(1.0)
    elapsed = loop.time() - started
    await room.close()
    # absolute deadlines: one tick per period, however long each took; a
    # loop stalled by a loaded machine skips whole periods, and counts them
    assert abs(room.tick + room.metrics.skipped_ticks - elapsed * 50) <= 2
    assert room.metrics.ticks == room.tick
    assert room.metrics.percentile(99) < 0.02


async def test_inputs_are_applied_in_order_and_bounded_per_player() -> None:
    room = make_room(Group(), max_queued_inputs=4)
    ana = await room.join('ana', Link())
    for n in range(1, 11):  # ten inputs before the tick: the oldest six go
        room.submit(ana.player.id, Push(n))
    assert ana.dropped_inputs == 6
    room.start()
    await until(lambda: room.tick >= 1)
    assert isinstance(room.rules, Counters)
    assert room.rules.counts['p1'] == 7 + 8 + 9 + 10  # the newest four, each applied
    await room.close()


async def test_refused_inputs_are_told_to_that_player_only() -> None:
    room = make_room(Group())
    ana_link, bob_link = Link(), Link()
    ana = await room.join('ana', ana_link)
    await room.join('bob', bob_link)
    room.submit(ana.player.id, Push(0))
    room.start()
    await until(lambda: ana_link.of_type('error'))
    await room.close()
    assert ana_link.of_type('error')[0]['code'] == 'invalid_input'
    assert not bob_link.of_type('error')


async def test_state_goes_out_whole_then_as_deltas() -> None:
    group = Group()
    room = make_room(group, keyframe_interval=100)
    ana = await room.join('ana', Link())
    room.start()
    await until(lambda: len(group.messages) >= 3)
    room.submit(ana.player.id, Push(5))
    await until(lambda: any(m.get('patch') for m in group.messages))
    await room.join('bob', Link())
    await until(lambda: sum(m['type'] == 'snapshot' for m in group.messages) == 2)
    await room.close()
    kinds = [m['type'] for m in group.messages]
    assert kinds[0] == 'snapshot' and kinds[1] == 'delta'
    assert {'counts': {'p1': 5}} in [m.get('patch') for m in group.messages]
    # an unchanged tick is an empty delta: a few bytes
    assert {'type': 'delta', 'tick': 2, 'patch': {}} == group.messages[1]
    last_full = [m for m in group.messages if m['type'] == 'snapshot'][-1]
    assert set(last_full['state']['counts']) == {'p1', 'p2'}


async def test_bots_play_through_the_same_inputs() -> None:
    room = make_room(Group())
    await room.join('ana', Link())
    [bot] = room.add_bots(1)
    assert bot.player.bot and bot.link is None
    room.start()
    await until(lambda: room.tick >= 3)
    assert isinstance(room.rules, Counters)
    counts = dict(room.rules.counts)
    await room.close()
    # the bot pushed by 2 each tick; the idle human did nothing
    assert counts['p1'] == 0
    assert counts['p2'] >= 6 and counts['p2'] % 2 == 0


async def test_the_room_is_full_at_max_players_of_people() -> None:
    room = make_room(Group())
    await room.join('ana', Link())
    assert len(room.add_bots(5)) == 2  # Counters.max_players is 3
    # a person takes a bot's seat
    await room.join('bob', Link())
    assert (room.humans, room.bots) == (2, 1)
    await room.join('cy', Link())
    assert (room.humans, room.bots) == (3, 0)
    with pytest.raises(RoomFull):
        await room.join('late', Link())
    assert room.add_bots(1) == []
    await room.close()


async def test_names_are_unique_in_a_room_and_bots_yield_in_quick_rooms() -> None:
    room = make_room(Group(), bots_yield=True)
    first = await room.join('ana', Link())
    room.add_bots(2)
    second = await room.join('ANA', Link())
    assert (first.player.name, second.player.name) == ('ana', 'ANA 2')
    # each person after the first sent a bot home
    assert (room.humans, room.bots) == (2, 1)
    await room.close()


async def test_a_dropped_player_gets_its_seat_back_within_the_grace_period() -> None:
    room = make_room(Group(), grace_period=0.3)
    first = Link()
    ana = await room.join('ana', first)
    await room.join('bob', Link())
    room.start()
    room.disconnect(ana.player.id)
    await asyncio.sleep(0.1)
    again = Link()
    back = await room.rejoin(ana.token, again)
    assert back is ana and back.player.id == 'p1'
    assert again.of_type('welcome')[0]['rejoined'] is True
    # a second connection with the token takes over: the first is let go
    third = Link()
    await room.rejoin(ana.token, third)
    assert again.detached
    # past the grace period the seat is freed and the token is refused
    room.disconnect(ana.player.id)
    await until(lambda: 'p1' not in room.seats)
    assert isinstance(room.rules, Counters)
    assert room.rules.left == ['p1']
    with pytest.raises(BadToken):
        await room.rejoin(ana.token, Link())
    await room.close()


async def test_a_failing_step_closes_this_room_only() -> None:
    sick_link, well_link = Link(), Link()
    sick, well = make_room(Group()), make_room(Group())
    await sick.join('ana', sick_link)
    await well.join('bob', well_link)
    sick.start()
    well.start()
    assert isinstance(sick.rules, Counters)
    sick.rules.fail = True
    assert await asyncio.wait_for(sick.task, 2) == 'failed'  # type: ignore[arg-type]
    [closed] = sick_link.of_type('room_closed')
    assert 'a bug in step' in closed['reason']
    assert sick_link.detached and sick.seats == {}
    with pytest.raises(RoomClosed):
        await sick.join('cid', Link())
    ticks = well.tick
    await until(lambda: well.tick >= ticks + 5)
    assert not well.closed
    await well.close()


async def test_a_failing_on_join_closes_the_room_at_the_next_tick() -> None:
    room = make_room(Group())
    await room.join('ana', Link())
    room.start()

    def broken(player: Any) -> None:
        raise ValueError('on_join bug')

    room.rules.on_join = broken  # type: ignore[method-assign]
    with pytest.raises(RoomClosed):
        await room.join('bob', Link())
    assert await asyncio.wait_for(room.task, 2) == 'failed'  # type: ignore[arg-type]


async def test_an_empty_room_ends_itself_and_close_awaits_the_loop() -> None:
    room = make_room(Group(), empty_timeout=0.1)
    ana = await room.join('ana', Link())
    room.add_bots(2)  # bots alone do not keep a room open
    room.start()
    room.leave(ana.player.id)
    assert await asyncio.wait_for(room.task, 2) == 'empty'  # type: ignore[arg-type]

    other = make_room(Group())
    link = Link()
    await other.join('bob', link)
    task = other.start()
    await other.close('maintenance')
    assert task.done()
    assert link.of_type('room_closed')[0]['reason'] == 'maintenance'
