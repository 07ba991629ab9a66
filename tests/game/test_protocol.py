"""The game over real websockets: players see each other, bots play, seats survive
reconnections, a failing room is isolated, bad clients are refused."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest
from aiotao_demo.arena import Arena

from aiotao.game import get_game
from tests.game.conftest import StartServer
from tests.game.players import TestPlayer, connect
from tests.websocket.servers import RunningServer


def moved(player: TestPlayer, id: str, start: dict[str, Any]) -> bool:
    now = player.players.get(id)
    return bool(now) and (now['x'], now['y']) != (start['x'], start['y'])


@pytest.mark.parametrize('kind', ['aiohttp', 'asgi'])
async def test_three_players_see_each_other_move_and_shoot(
    start: StartServer, kind: str
) -> None:
    server = await start(kind)
    url = server.ws('/game/ws')
    async with connect(url) as ana, connect(url) as bob, connect(url) as cid:
        welcomes = [
            await p.join(name=n) for p, n in ((ana, 'ana'), (bob, 'bob'), (cid, 'cid'))
        ]
        assert len({w['room'] for w in welcomes}) == 1  # quick join fills one room
        everyone = [ana, bob, cid]
        ids = [p.me for p in everyone]
        assert len(set(ids)) == 3
        await asyncio.gather(
            *(p.wait_for(lambda p: set(ids) <= set(p.players)) for p in everyone)
        )
        starts = {id: dict(ana.players[id]) for id in ids}
        await ana.send('input', dx=1, dy=0)
        await bob.send('input', dx=0, dy=1)
        await cid.send('input', dx=-1, dy=0, aim=1.0, fire=True)
        for watcher in everyone:
            for id in ids:
                await watcher.wait_for(lambda p, id=id: moved(p, id, starts[id]))
            await watcher.wait_for(lambda p: p.state and p.state['bullets'])
        assert ana.players[bob.me]['name'] == 'bob'
        assert bob.players[cid.me]['aim'] == 1.0


async def test_bots_play(server: RunningServer) -> None:
    async with connect(server.ws('/game/ws')) as ana:
        await ana.join(mode='create', bots=3)
        bots = [id for id, p in ana.players.items() if p['bot']]
        assert len(bots) == 3
        starts = {id: dict(ana.players[id]) for id in bots}
        for id in bots:
            await ana.wait_for(lambda p, id=id: moved(p, id, starts[id]))
        await ana.wait_for(lambda p: p.state and p.state['bullets'])


async def test_reconnecting_with_the_token_keeps_the_seat(
    server: RunningServer,
) -> None:
    url = server.ws('/game/ws')
    async with connect(url) as bob:
        async with connect(url) as ana:
            welcome = await ana.join(name='ana')
        await bob.join(name='bob')
        assert bob.welcome is not None and bob.welcome['room'] == welcome['room']
        assert welcome['seat'] in bob.players  # the seat waits for ana
        async with connect(url) as ana_again:
            back = await ana_again.join(token=welcome['token'])
            assert back['seat'] == welcome['seat']
            assert back['room'] == welcome['room']
            assert back['rejoined'] is True
            assert ana_again.players[back['seat']]['name'] == 'ana'
            # the seat is played again: it moves
            start = dict(ana_again.players[back['seat']])
            await ana_again.send('input', dx=1)
            await bob.wait_for(lambda p: moved(p, back['seat'], start))


async def test_a_seat_is_freed_after_the_grace_period(start: StartServer) -> None:
    server = await start(**{'aiotao.game.grace_period': '0.2'})
    url = server.ws('/game/ws')
    async with connect(url) as bob:
        async with connect(url) as ana:
            welcome = await ana.join(name='ana')
        await bob.join()
        await bob.wait_for(lambda p: welcome['seat'] not in p.players)
        async with connect(url) as ana_again:
            await ana_again.send('join', token=welcome['token'], id=1)
            error = await ana_again.message('error')
            assert error['code'] == 'bad_token'


async def test_a_failing_room_is_closed_and_the_others_keep_ticking(
    start: StartServer,
) -> None:
    server = await start(**{'aiotao.game.rules': 'tests.game.app.CrashingArena'})
    url = server.ws('/game/ws')
    lobby = get_game(server.registry).lobby
    async with connect(url) as calm, connect(url) as doomed:
        calm_room = (await calm.join(mode='create', name='calm'))['room']
        await doomed.send('join', mode='create', name='boom')
        closed = await doomed.message('room_closed')
        assert 'error' in closed['reason'] and 'boom' in closed['reason']
        assert closed['room'] != calm_room
        await doomed.wait_for(lambda p: closed['room'] not in lobby.rooms)
        # the other room never stopped
        tick = calm.tick
        await calm.wait_for(lambda p: p.tick >= tick + 10)
        assert list(lobby.rooms) == [calm_room]
        # the player of the failed room may play on elsewhere
        again = await doomed.join(mode='quick', name='careful')
        assert again['room'] == calm_room


async def test_inputs_cannot_teleport_or_rapid_fire(server: RunningServer) -> None:
    async with connect(server.ws('/game/ws')) as ana:
        await ana.join(mode='create')
        game = get_game(server.registry)
        start = dict(ana.players[ana.me])
        tick = ana.tick
        for _ in range(30):  # as fast as the rate limit allows, no sleeping
            await ana.send('input', dx=1, dy=1, fire=True)
        await ana.wait_for(lambda p: p.tick >= tick + 10)
        now = ana.players[ana.me]
        ticks = ana.tick - tick + 1
        travelled = math.hypot(now['x'] - start['x'], now['y'] - start['y'])
        assert travelled <= Arena.speed * ticks / game.settings.tick_rate + 1
        shots = max(int(key) for key in ana.state['bullets'] or {'0': 0}) + 1  # type: ignore[index]
        assert shots <= math.ceil(ticks / game.settings.tick_rate / Arena.fire_cooldown)


async def test_bad_messages_get_errors_and_the_connection_stays(
    server: RunningServer,
) -> None:
    async with connect(server.ws('/game/ws')) as ana:

        async def error_for(raw: str) -> dict[str, Any]:
            start = len(ana.messages)
            await ana.ws.send(raw)
            return await ana.message('error', after=start)

        assert (await error_for('{"type":"input","dx":0}'))['code'] == 'not_in_room'
        assert (await error_for('not json'))['code'] == 'bad_json'
        assert (await error_for('{"type":"teleport"}'))['code'] == 'unknown_type'
        await ana.join()
        out_of_range = await error_for('{"type":"input","dx":40}')
        assert out_of_range['code'] == 'invalid'
        assert out_of_range['errors'] == [
            {'field': 'dx', 'problem': 'must be at most 1'}
        ]
        position = await error_for('{"type":"input","x":900,"y":10}')
        assert position['code'] == 'invalid'
        again = await error_for('{"type":"join"}')
        assert again['code'] == 'already_in_room'
        await ana.send('leave', id=1)
        assert (await ana.message('reply'))['data'] == {'left': ana.welcome['room']}  # type: ignore[index]
        no_room = await error_for('{"type":"leave"}')
        assert no_room['code'] == 'not_in_room'


async def test_flooding_closes_the_connection_with_1008(start: StartServer) -> None:
    server = await start(**{'aiotao.game.max_messages_per_second': '20'})
    async with connect(server.ws('/game/ws')) as ana:
        await ana.join()
        for _ in range(200):
            try:
                await ana.send('input', dx=1)
            except Exception:
                break
        await asyncio.wait_for(ana.ws.wait_closed(), 5)
        assert ana.ws.close_code == 1008


async def test_private_rooms_are_joined_by_code(server: RunningServer) -> None:
    url = server.ws('/game/ws')
    async with connect(url) as ana, connect(url) as bob, connect(url) as cid:
        private = await ana.join(mode='private')
        assert private['code'] and len(private['code']) == 5
        # a quick join does not land in a private room
        assert (await cid.join())['room'] != private['room']
        joined = await bob.join(mode='private', code=private['code'].lower())
        assert joined['room'] == private['room']
        start = len(bob.messages)
        await bob.send('leave')
        await bob.send('join', mode='private', code='NOPE1')
        assert (await bob.message('error', after=start))['code'] == 'no_such_room'
        # a private room is not joined by its id, a public one is (a shared link)
        start = len(bob.messages)
        await bob.send('join', room=private['room'])
        assert (await bob.message('error', after=start))['code'] == 'no_such_room'
        assert cid.welcome is not None  # cid's quick join: a public room
        joined = await bob.join(room=cid.welcome['room'])
        assert joined['room'] == cid.welcome['room']


async def test_a_quick_join_takes_a_bots_seat_in_the_room_with_most_people(
    server: RunningServer,
) -> None:
    url = server.ws('/game/ws')
    async with connect(url) as ana, connect(url) as bob:
        full = await ana.join(mode='create', bots=Arena.max_players - 1)
        assert len(ana.players) == Arena.max_players
        joined = await bob.join()
        assert joined['room'] == full['room']
        await bob.wait_for(lambda p: len(p.players) == Arena.max_players)
        bots = [p for p in bob.players.values() if p['bot']]
        assert len(bots) == Arena.max_players - 2


async def test_quick_play_with_no_room_opens_one_with_bots(
    server: RunningServer,
) -> None:
    async with connect(server.ws('/game/ws')) as ana:
        await ana.join(name='')
        names = [p['name'] for p in ana.players.values()]
        assert sum(p['bot'] for p in ana.players.values()) == 3
        me = ana.players[ana.me]['name']
        assert me not in ('', 'player') and ' ' in me  # made up: "swift otter"
        assert len(set(names)) == len(names)


async def test_empty_rooms_are_cleaned_up_with_their_tasks(
    server: RunningServer,
) -> None:
    lobby = get_game(server.registry).lobby
    async with connect(server.ws('/game/ws')) as ana:
        room = (await ana.join(mode='create', bots=2))['room']
        assert room in lobby.rooms
        await ana.send('leave')

        def game_tasks() -> list[asyncio.Task[Any]]:
            return [t for t in asyncio.all_tasks() if 'game room' in t.get_name()]

        assert game_tasks()
        # the room's loop, its watcher and the lease refresher all end
        await ana.wait_for(lambda p: room not in lobby.rooms and not game_tasks())
    assert await lobby.directory.get(room) is None


async def test_rooms_report_tick_metrics(server: RunningServer) -> None:
    lobby = get_game(server.registry).lobby
    async with connect(server.ws('/game/ws')) as ana:
        room = (await ana.join(mode='create', bots=3))['room']
        await ana.wait_for(lambda p: p.tick >= 10)
        metrics = lobby.metrics()[room]
        assert metrics['ticks'] >= 9
        assert 0 < metrics['tick_ms_p99'] < 50
        assert metrics['bytes_sent'] > 0
        assert 0 <= metrics['late_share'] <= 1
