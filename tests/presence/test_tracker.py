"""Trackers of several processes on one hub, on a clock of the test's own.

Each :class:`Presence` stands for a worker process; the hub carries their
messages as a broker would.  The clock only moves when the test moves it,
so timeouts and lingers are exact and nothing sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from aiotao.presence import MemoryHub, Presence, PresenceDiff, PresenceSettings

SETTINGS = PresenceSettings(heartbeat=1.0, timeout=5.0, linger=2.0)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Worker:
    """One process's tracker, and the lines its listener heard in ``room``."""

    def __init__(self, hub: MemoryHub, clock: Clock, going_away: bool = False) -> None:
        self.channel = hub.channel()
        self.going_away = going_away
        self.presence = Presence(
            self.channel,
            SETTINGS,
            clock=clock,
            going_away=lambda: self.going_away,
            background=False,
        )
        self.heard: list[str] = []

    def listen(self, diff: PresenceDiff) -> None:
        if diff.catch_up:
            self.heard.extend(f'was there {key}' for key in diff.joins)
            return
        self.heard.extend(f'joined {key}' for key in diff.joins)
        self.heard.extend(f'left {key}' for key in diff.leaves)
        self.heard.extend(
            f'{old["nick"]} is now {new["nick"]}' for old, new in diff.updates.values()
        )

    async def start(self) -> Worker:
        self.presence.subscribe('room', self.listen)
        await self.presence.start()
        await settle()
        return self


async def settle() -> None:
    """Let the messages the trackers queued go out and be answered."""
    for _ in range(10):
        await asyncio.sleep(0)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def workers(clock: Clock) -> AsyncIterator[Callable[..., Worker]]:
    hub = MemoryHub()
    made: list[Worker] = []

    def make(**kwargs: bool) -> Worker:
        worker = Worker(hub, clock, **kwargs)
        made.append(worker)
        return worker

    yield make
    for worker in made:
        await worker.presence.close()


async def run_for(seconds: float, clock: Clock, *alive: Worker) -> None:
    """Move the clock on in small steps; the ``alive`` workers do their rounds."""
    end = clock.now + seconds
    while clock.now < end:
        clock.now = min(end, clock.now + 0.25)
        for worker in alive:
            await worker.presence.advance()
        await settle()


async def test_one_join_and_one_leave_per_person_across_workers(
    workers: Callable[..., Worker], clock: Clock
) -> None:
    one, two, three = [await workers().start() for _ in range(3)]
    tab1 = await one.presence.track('room', 'ada', {'nick': 'ada'})
    await settle()
    tab2 = await two.presence.track('room', 'ada', {'nick': 'ada'})  # a second tab
    await settle()
    for worker in (one, two, three):
        assert worker.heard == ['joined ada']
        assert worker.presence.present('room') == {'ada': {'nick': 'ada'}}
    await one.presence.untrack(tab1)
    await run_for(5, clock, one, two, three)
    assert all(worker.heard == ['joined ada'] for worker in (one, two, three))
    await two.presence.untrack(tab2)
    await run_for(1, clock, one, two, three)  # lingering: not gone yet
    assert three.heard == ['joined ada']
    await run_for(2, clock, one, two, three)
    for worker in (one, two, three):
        assert worker.heard == ['joined ada', 'left ada']
        assert worker.presence.present('room') == {}


async def test_a_killed_workers_people_who_reconnect_elsewhere_do_not_leave(
    workers: Callable[..., Worker], clock: Clock
) -> None:
    victim, survivor = await workers().start(), await workers().start()
    await victim.presence.track('room', 'ada', {'nick': 'ada'})
    await victim.presence.track('room', 'bob', {'nick': 'bob'})
    await settle()
    assert survivor.heard == ['joined ada', 'joined bob']
    # kill -9: the victim says nothing more, ever
    await victim.channel.close()
    # ada's page reconnects to the survivor a second later; bob's tab is gone
    await run_for(1, clock, survivor)
    await survivor.presence.track('room', 'ada', {'nick': 'ada'})
    await run_for(4, clock, survivor)
    assert survivor.heard == ['joined ada', 'joined bob']  # not dead yet
    await run_for(1.5, clock, survivor)
    assert survivor.heard == ['joined ada', 'joined bob', 'left bob']
    assert survivor.presence.present('room') == {'ada': {'nick': 'ada'}}


async def test_a_reload_within_the_linger_is_neither_a_leave_nor_a_join(
    workers: Callable[..., Worker], clock: Clock
) -> None:
    one, two = await workers().start(), await workers().start()
    ref = await one.presence.track('room', 'ada', {'nick': 'ada'})
    await one.presence.untrack(ref)
    await run_for(1.5, clock, one, two)
    await one.presence.track('room', 'ada', {'nick': 'ada'})
    await run_for(5, clock, one, two)
    assert one.heard == two.heard == ['joined ada']


async def test_a_worker_that_starts_learns_who_was_there(
    workers: Callable[..., Worker], clock: Clock
) -> None:
    old = await workers().start()
    await old.presence.track('room', 'ada', {'nick': 'ada'})
    new = await workers().start()
    # they were there before it: not news, but its list has them
    assert new.heard == ['was there ada']
    assert new.presence.present('room') == {'ada': {'nick': 'ada'}}
    await new.presence.track('room', 'bob', {'nick': 'bob'})
    await settle()
    assert old.heard == ['joined ada', 'joined bob']


async def test_a_lost_delta_is_found_by_the_next_heartbeat(
    workers: Callable[..., Worker], clock: Clock
) -> None:
    one, two = await workers().start(), await workers().start()
    two.channel.connected = False  # deaf for a moment: the delta is lost
    await one.presence.track('room', 'ada', {'nick': 'ada'})
    await settle()
    two.channel.connected = True
    assert two.heard == []
    await run_for(1.25, clock, one)  # one's beat says version 1
    assert two.heard == ['joined ada']


async def test_silence_while_the_broker_is_away_is_not_death(
    workers: Callable[..., Worker], clock: Clock
) -> None:
    one, two = await workers().start(), await workers().start()
    await one.presence.track('room', 'ada', {'nick': 'ada'})
    await settle()
    one.channel.connected = two.channel.connected = False
    await run_for(20, clock, one, two)
    one.channel.connected = two.channel.connected = True
    await run_for(3, clock, one, two)
    assert two.heard == ['joined ada']
    assert two.presence.present('room') == {'ada': {'nick': 'ada'}}


async def test_a_worker_going_away_leaves_its_people_to_the_timeout(
    workers: Callable[..., Worker], clock: Clock
) -> None:
    stopping, other = await workers().start(), await workers().start()
    ada = await stopping.presence.track('room', 'ada', {'nick': 'ada'})
    bob = await stopping.presence.track('room', 'bob', {'nick': 'bob'})
    await settle()
    # the server closes its websockets with 1001: the views untrack
    stopping.going_away = True
    await stopping.presence.untrack(ada)
    await stopping.presence.untrack(bob)
    await run_for(1, clock, stopping, other)
    await other.presence.track('room', 'ada', {'nick': 'ada'})  # reconnected here
    await run_for(6, clock, stopping, other)
    assert other.heard == ['joined ada', 'joined bob', 'left bob']


async def test_a_rename_is_one_update_everywhere(
    workers: Callable[..., Worker], clock: Clock
) -> None:
    one, two = await workers().start(), await workers().start()
    ref = await one.presence.track('room', 'ada', {'nick': 'guest-1'})
    await two.presence.track('room', 'ada', {'nick': 'guest-1'})
    await one.presence.update(ref, {'nick': 'Ada'})
    await settle()
    assert one.heard == two.heard == ['joined ada', 'guest-1 is now Ada']
    with pytest.raises(ValueError, match='not tracked'):
        await one.presence.update('nope', {})


async def test_tracking_untracks_when_the_block_ends(
    workers: Callable[..., Worker], clock: Clock
) -> None:
    one, two = await workers().start(), await workers().start()
    async with one.presence.tracking('room', 'ada', {'nick': 'ada'}):
        await settle()
        assert two.presence.present('room') == {'ada': {'nick': 'ada'}}
    await run_for(2.5, clock, one, two)
    assert two.heard == ['joined ada', 'left ada']


async def test_foreign_messages_are_skipped(
    workers: Callable[..., Worker], clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    one = await workers().start()
    intruder = one.channel.hub.channel()
    await intruder.start(lambda text: None)
    await intruder.send('{"hello": "world"}')
    await intruder.send('{"p": 1, "op": "delta", "r": "x", "v": 1, "c": 5}')
    await one.presence.track('room', 'ada', {'nick': 'ada'})
    assert one.heard == ['joined ada']
    assert caplog.text.count('aiotao did not send') == 1


async def test_a_worker_started_after_one_died_learns_who_was_on_it(
    workers: Callable[..., Worker], clock: Clock
) -> None:
    victim, survivor = await workers().start(), await workers().start()
    await victim.presence.track('room', 'ada', {'nick': 'ada'})
    await victim.presence.track('room', 'bob', {'nick': 'bob'})
    await settle()
    await victim.channel.close()  # kill -9
    await run_for(1, clock, survivor)
    # gunicorn's replacement starts; ada's page reconnects to it
    new = await workers().start()
    assert new.heard == ['was there ada', 'was there bob']
    await new.presence.track('room', 'ada', {'nick': 'ada'})
    await settle()
    assert new.heard == ['was there ada', 'was there bob']  # not news
    await run_for(7, clock, survivor, new)
    assert survivor.heard == ['joined ada', 'joined bob', 'left bob']
    assert new.heard == ['was there ada', 'was there bob', 'left bob']
    # the dead one is not learned again from a late state
    await new.presence.advance()
    new.presence._reply_state('anyone')
    await run_for(10, clock, survivor, new)
    assert new.heard.count('left bob') == survivor.heard.count('left bob') == 1
