"""The state messages' encodings: JSON by default, MessagePack for a client
offering ``aiotao.game.msgpack`` at the handshake, over real websockets."""

from __future__ import annotations

import asyncio
import json
import math
import random
from typing import Any

import pytest
from aiotao_demo.arena import Arena
from pyramid.exceptions import ConfigurationError

from aiotao.game import get_game
from aiotao.game.encoding import (
    ENCODINGS,
    JSON,
    MSGPACK,
    Encodings,
    encoding_of,
    json_state_group,
    state_group,
)
from aiotao.game.lobby import Lobby
from aiotao.game.patch import merge_apply
from aiotao.game.room import Room
from aiotao.game.room import state_group as room_state_group
from aiotao.game.settings import GameSettings
from aiotao.websocket.groups import Groups, InMemoryBackend
from tests.game.conftest import StartServer
from tests.game.players import connect, connect_elsewhere
from tests.game.test_relay import two_workers
from tests.websocket.servers import RunningServer

pytestmark = pytest.mark.timeout(30)

assert MSGPACK is not None  # msgpack is in aiotao[test]


# -- without sockets ----------------------------------------------------------


def arena_messages(ticks: int) -> list[dict[str, Any]]:
    """A room of bots' state messages: a snapshot, then deltas."""
    arena = Arena(random.Random(3))
    from aiotao.game.rules import Player

    players = [Player(f'p{i}', f'bot {i}', True) for i in range(8)]
    for player in players:
        arena.on_join(player)
    previous = arena.snapshot()
    messages: list[dict[str, Any]] = [
        {'type': 'snapshot', 'tick': 0, 'state': previous}
    ]
    for tick in range(1, ticks):
        for player in players:
            action = arena.bot_input(player)
            if action is not None:
                arena.on_input(player, action)
        arena.step(0.05)
        current = arena.snapshot()
        patch = arena.delta(previous, current)
        messages.append({'type': 'delta', 'tick': tick, 'patch': patch})
        previous = current
    return messages


def close_enough(a: Any, b: Any) -> bool:
    """Equal, floats to float32's precision."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close_enough(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(close_enough, a, b))
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)
    return bool(a == b) and type(a) is type(b)


def test_snapshots_and_deltas_round_trip_in_both_encodings() -> None:
    messages = arena_messages(100)
    assert JSON.decode(JSON.encode(messages[0])) == messages[0]
    for encoding in ENCODINGS.values():
        state: dict[str, Any] = {}
        decoded_state: dict[str, Any] = {}
        for message in messages:
            decoded = encoding.decode(encoding.encode(message))
            assert close_enough(decoded, message)
            if message['type'] == 'snapshot':
                state, decoded_state = message['state'], decoded['state']
            else:
                state = merge_apply(state, message['patch'])
                decoded_state = merge_apply(decoded_state, decoded['patch'])
        # deltas applied to the decoded state: the room as the server has it
        assert close_enough(decoded_state, state)


def test_msgpack_is_smaller_than_json() -> None:
    messages = arena_messages(200)
    json_bytes = sum(len(JSON.encode(m).encode()) for m in messages)
    msgpack_bytes = sum(len(MSGPACK.encode(m)) for m in messages)
    assert msgpack_bytes < 0.8 * json_bytes


def test_floats_are_float32_and_rounded_values_survive() -> None:
    # the arena rounds positions to a tenth, angles to a hundredth
    patch = {'x': 959.9, 'aim': -3.14, 't': 7999.999}
    data = MSGPACK.encode(patch)
    assert data.count(b'\xca') == 3  # three float32s, no float64 (0xcb)
    decoded = MSGPACK.decode(data)
    assert round(decoded['x'], 1) == 959.9
    assert round(decoded['aim'], 2) == -3.14
    assert round(decoded['t'], 3) == 7999.999


def test_subprotocols_name_the_encodings() -> None:
    assert encoding_of('aiotao.game.msgpack') is MSGPACK
    assert encoding_of('aiotao.game.json') is JSON
    assert encoding_of(None) is JSON
    assert encoding_of('aiotao.game.cbor') is JSON
    # JSON's state group is the room's
    assert state_group('r1') == state_group('r1', JSON) == room_state_group('r1')
    assert json_state_group(state_group('r1', MSGPACK)) == room_state_group('r1')


def test_each_encoding_in_use_is_encoded_once() -> None:
    encodings = Encodings('r1')
    message = {'type': 'delta', 'tick': 1, 'patch': {}}
    assert [name for name, _, _ in encodings.encode(message, ['json'] * 5)] == ['json']
    sent = encodings.encode(message, ['msgpack', 'json', 'msgpack'])
    assert [(name, group) for name, group, _ in sent] == [
        ('json', 'aiotao.game.state.r1'),
        ('msgpack', 'aiotao.game.state.r1.msgpack'),
    ]
    # a player of unknown encoding (relayed from another worker): all of them
    assert len(encodings.encode(message, [None])) == len(ENCODINGS)


async def test_the_room_encodes_once_per_encoding_in_use() -> None:
    sent: list[tuple[str, str | bytes]] = []

    async def broadcast(group: str, data: str | bytes) -> None:
        sent.append((group, data))

    class Link:
        def __init__(self, encoding: str) -> None:
            self.encoding = encoding

        async def send(self, text: str) -> None:
            pass

        def detach(self) -> None:
            pass

    room = Room(Arena(random.Random(1)), id='r1', broadcast=broadcast, tick_rate=50)
    room.start()
    try:
        await room.join('ana', Link('json'))
        await room.join('bob', Link('json'))
        await asyncio.sleep(0.1)
        assert {group for group, _ in sent} == {'aiotao.game.state.r1'}
        ticks = len(sent)
        await room.join('cid', Link('msgpack'))
        await room.join('dan', Link('msgpack'))
        await asyncio.sleep(0.1)
        later = sent[ticks:]
        groups = [group for group, _ in later]
        # one message per tick and per encoding, whatever the players
        assert groups.count('aiotao.game.state.r1') == groups.count(
            'aiotao.game.state.r1.msgpack'
        )
        assert all(isinstance(d, bytes) for g, d in later if g.endswith('msgpack'))
        assert all(isinstance(d, str) for g, d in later if not g.endswith('msgpack'))
    finally:
        await room.close()


# -- over real websockets -----------------------------------------------------


@pytest.mark.parametrize('kind', ['aiohttp', 'asgi'])
async def test_json_and_msgpack_players_share_a_room(
    start: StartServer, kind: str
) -> None:
    server = await start(kind)
    url = server.ws('/game/ws')
    async with (
        connect(url) as ana,
        connect(url, ['aiotao.game.msgpack', 'aiotao.game.json']) as bob,
    ):
        assert ana.ws.subprotocol is None
        assert bob.ws.subprotocol == 'aiotao.game.msgpack'
        welcome = await ana.join(name='ana', mode='create', bots=2)
        await bob.join(name='bob', room=welcome['room'])
        await ana.wait_for(lambda p: bob.me in p.players)
        await bob.send('input', dx=1, dy=0, seq=5)
        # deltas applied to the snapshot: bob's state follows the room's
        await ana.wait_for(lambda p: p.players[bob.me]['ack'] == 5)
        await bob.wait_for(lambda p: p.players[bob.me]['ack'] == 5)
        await bob.wait_for(lambda p: p.tick > 40)
        room = get_game(server.registry).lobby.rooms[welcome['room']]
        mine = room.rules.snapshot()
        await ana.wait_for(lambda p: p.tick >= room.tick)
        assert bob.binary_messages > 30
        assert ana.binary_messages == 0
        # the control messages stay JSON text: the welcome, the hello
        assert bob.welcome is not None and bob.messages[0]['type'] == 'hello'
        assert set(mine['players']) == set(bob.players) == set(ana.players)
        for message in bob.messages:
            if message['type'] in ('snapshot', 'delta'):
                assert message['tick'] > 0


async def test_msgpack_sends_fewer_bytes_per_tick_than_json(
    server: RunningServer,
) -> None:
    url = server.ws('/game/ws')
    async with (
        connect(url) as ana,
        connect(url, ['aiotao.game.msgpack']) as bob,
    ):
        welcome = await ana.join(name='ana', mode='create', bots=6)
        await bob.join(name='bob', room=welcome['room'])
        await bob.wait_for(lambda p: p.tick > 0)
        start = {p: (p.bytes_received, p.tick) for p in (ana, bob)}
        await ana.wait_for(tick_after(start[ana][1] + 60), 10)
        await bob.wait_for(tick_after(start[ana][1] + 60), 10)
        # the same ticks of the same room, in both encodings
        per_tick = {
            p: (p.bytes_received - start[p][0]) / (p.tick - start[p][1])
            for p in (ana, bob)
        }
        assert per_tick[bob] < 0.85 * per_tick[ana]


def tick_after(tick: int) -> Any:
    return lambda p: p.tick >= tick


async def test_an_unknown_encoding_gets_json(server: RunningServer) -> None:
    url = server.ws('/game/ws')
    # a client offering only what the server does not speak: no subprotocol
    # agreed (a browser then fails the handshake; this client goes on), JSON
    async with connect(url, ['aiotao.game.cbor']) as ana:
        assert ana.ws.subprotocol is None
        await ana.join(name='ana', mode='create', bots=1)
        await ana.wait_for(lambda p: p.tick > 3)
        assert ana.binary_messages == 0


async def test_json_is_offered_by_name_too(server: RunningServer) -> None:
    url = server.ws('/game/ws')
    async with connect(url, ['aiotao.game.json']) as ana:
        assert ana.ws.subprotocol == 'aiotao.game.json'
        await ana.join(name='ana', mode='create', bots=1)
        await ana.wait_for(lambda p: p.tick > 3)
        assert ana.binary_messages == 0


async def test_a_msgpack_player_relayed_to_another_workers_room(
    two_workers: str,
) -> None:
    url = two_workers
    # every player reads MessagePack: the room sends no JSON at all
    async with connect(url, ['aiotao.game.msgpack']) as ana:
        first = ana.messages[0]['worker']
        welcome = await ana.join(name='ana', mode='create', bots=1)
        async with connect_elsewhere(url, first, ['aiotao.game.msgpack']) as bob:
            assert bob.ws.subprotocol == 'aiotao.game.msgpack'
            joined = await bob.join(name='bob', room=welcome['room'])
            assert joined['worker'] == first  # relayed: the room is ana's worker's
            await bob.send('input', dx=1, dy=0, seq=9)
            await ana.wait_for(lambda p: p.players[bob.me]['ack'] == 9)
            await bob.wait_for(lambda p: p.players[bob.me]['ack'] == 9)
            assert bob.binary_messages > 0 and ana.binary_messages > 0
            # the room sends bob's worker MessagePack only, which the owner
            # watch there listens to: longer than aiotao.game.owner_timeout
            # (2 s) later, bob is still seated, never taken for lost (a
            # watch that heard nothing would make it join again: welcomed twice)
            await asyncio.sleep(3.5)
            assert bob.me in bob.players and bob.state is not None
            assert [m['type'] for m in bob.messages].count('welcome') == 1


__all__ = ['two_workers']  # (the fixture, for pytest)


# -- aiotao.json = orjson: the JSON state messages written by orjson -----------


def test_orjson_writes_the_same_json_state_messages() -> None:
    stock, fast = Encodings('r1'), Encodings('r1', 'orjson')
    for message in arena_messages(40):
        [(_, _, expected)] = stock.encode(message, ['json'])
        [(_, group, written)] = fast.encode(message, ['json'])
        assert group == 'aiotao.game.state.r1'
        assert isinstance(written, str)  # a text frame, as JSON's
        assert json.loads(written) == json.loads(expected)
    # the one difference in form: non-ASCII as UTF-8, not \u escapes
    named = {'type': 'snapshot', 'tick': 1, 'state': {'name': 'zoë'}}
    assert '"zoë"' in fast.encode(named, ['json'])[0][2]
    assert '"zo\\u00eb"' in stock.encode(named, ['json'])[0][2]


async def test_the_lobbys_rooms_write_json_with_the_library_the_setting_names() -> None:
    groups = Groups(InMemoryBackend())
    written: dict[str, list[str | bytes]] = {}
    for library in ('json', 'orjson'):
        settings = GameSettings.from_settings(
            {'aiotao.game.rules': 'aiotao_demo.arena.Arena', 'aiotao.json': library}
        )
        assert settings.json_library == library
        lobby = Lobby(settings, groups)
        room = await lobby.create()
        seen = written[library] = []
        await groups.join(room_state_group(room.id), Reader(seen))
        await room.join('zoë', PlainLink())
        async with asyncio.timeout(2):
            while not seen:
                await asyncio.sleep(0.01)
        await lobby.close()
    assert '"zoë"' in str(written['orjson'][0])
    assert '"zo\\u00eb"' in str(written['json'][0])


def test_an_unknown_json_library_is_refused_naming_the_setting() -> None:
    with pytest.raises(ConfigurationError, match=r'aiotao\.json.*orjson'):
        GameSettings.from_settings(
            {'aiotao.game.rules': 'aiotao_demo.arena.Arena', 'aiotao.json': 'ujson'}
        )


class Reader:
    """A member of a state group: keeps what it is sent."""

    is_open = True

    def __init__(self, seen: list[str | bytes]) -> None:
        self.seen = seen

    def send_nowait(self, data: str | bytes) -> bool:
        self.seen.append(data)
        return True


class PlainLink:
    async def send(self, text: str) -> None:
        pass

    def detach(self) -> None:
        pass
