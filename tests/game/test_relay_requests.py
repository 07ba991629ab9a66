"""Decoding the relay requests a room's owner hears: garbage is refused, clearly."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from typing import Any

import pytest

from aiotao.game.relay import ControlInbox
from aiotao.game.relay_requests import (
    Alive,
    BadRelayRequest,
    Disconnect,
    Input,
    Join,
    Leave,
    Rejoin,
    Resync,
    decode_request,
)
from aiotao.game.room import Room
from aiotao.websocket.groups import Groups, InMemoryBackend
from aiotao.websocket.schema import Schema
from tests.game.rules import Counters, Push

SCHEMA: Schema[Push] = Schema(Push)


@pytest.mark.parametrize(
    ('request_', 'decoded'),
    [
        ({'op': 'join', 'conn': 'c1', 'name': 'ana'}, Join('c1', 'ana')),
        ({'op': 'rejoin', 'conn': 'c1', 'token': 'r1.t'}, Rejoin('c1', 'r1.t')),
        # the encoding the player reads; one this worker cannot write (a
        # worker of another version), or garbage: unknown, every encoding
        (
            {'op': 'join', 'conn': 'c1', 'name': 'ana', 'encoding': 'msgpack'},
            Join('c1', 'ana', 'msgpack'),
        ),
        (
            {'op': 'rejoin', 'conn': 'c1', 'token': 'r1.t', 'encoding': 'json'},
            Rejoin('c1', 'r1.t', 'json'),
        ),
        (
            {'op': 'join', 'conn': 'c1', 'name': 'a', 'encoding': 'cbor'},
            Join('c1', 'a'),
        ),
        ({'op': 'join', 'conn': 'c1', 'name': 'a', 'encoding': ['x']}, Join('c1', 'a')),
        (
            {'op': 'input', 'conn': 'c1', 'seat': 'p1', 'input': {'n': 3}},
            Input('c1', 'p1', Push(n=3)),
        ),
        (
            {'op': 'input', 'conn': 'c1', 'seat': 'p1', 'input': {}, 'token': 't'},
            Input('c1', 'p1', Push(), 't'),
        ),
        ({'op': 'alive', 'conn': 'c1', 'token': 't'}, Alive('c1', 't')),
        ({'op': 'alive', 'conn': 'c1', 'token': 7}, Alive('c1', None)),
        ({'op': 'leave', 'conn': 'c1', 'seat': 'p1'}, Leave('c1', 'p1')),
        ({'op': 'disconnect', 'conn': 'c1', 'seat': 'p1'}, Disconnect('c1', 'p1')),
        ({'op': 'resync'}, Resync()),
    ],
)
def test_every_request_decodes(request_: dict[str, Any], decoded: object) -> None:
    assert decode_request(json.dumps(request_), SCHEMA) == decoded
    assert decode_request(json.dumps(request_).encode(), SCHEMA) == decoded


@pytest.mark.parametrize(
    ('data', 'says'),
    [
        ('', 'a relay request is JSON'),
        ('{"op": ', 'a relay request is JSON'),
        (b'\xff\xfe', 'a relay request is JSON'),
        ('[1, 2]', 'a JSON object, not a list'),
        ('"join"', 'a JSON object, not a str'),
        ('null', 'a JSON object, not a NoneType'),
        ('{}', "unknown relay request op 'None'"),
        ('{"op": "explode"}', "unknown relay request op 'explode' (expected one of"),
        ('{"op": ["join"]}', 'unknown relay request op'),
        ('{"op": "join", "name": "ana"}', "'join' needs 'conn' (a string)"),
        ('{"op": "join", "conn": 3, "name": "ana"}', "'join' needs 'conn'"),
        ('{"op": "join", "conn": "c1"}', "'join' needs 'name' (a string)"),
        ('{"op": "rejoin", "conn": "c1"}', "'rejoin' needs 'token'"),
        ('{"op": "leave", "conn": "c1", "seat": null}', "'leave' needs 'seat'"),
        ('{"op": "disconnect", "conn": "c1"}', "'disconnect' needs 'seat'"),
        ('{"op": "input", "conn": "c1", "seat": "p1"}', "'input' needs 'input'"),
        (
            '{"op": "input", "conn": "c1", "seat": "p1", "input": {"n": "far"}}',
            'bad input: n: expected a',
        ),
        (
            '{"op": "input", "conn": "c1", "seat": "p1", "input": {"n": 11}}',
            'bad input',
        ),
    ],
)
def test_bad_requests_are_refused_saying_why(data: str | bytes, says: str) -> None:
    with pytest.raises(BadRelayRequest) as refused:
        decode_request(data, SCHEMA)
    assert says in str(refused.value)
    assert isinstance(refused.value, ValueError)


async def test_the_inbox_logs_bad_requests_and_keeps_serving(
    caplog: pytest.LogCaptureFixture,
) -> None:
    groups = Groups(InMemoryBackend())
    room = Room(Counters(random.Random(1)), id='r1', broadcast=groups.broadcast)

    async def changed(room: Room) -> None:
        pass

    inbox = ControlInbox(room, groups, changed)
    try:
        with caplog.at_level(logging.WARNING, logger='aiotao.game.relay'):
            for data in ('nonsense', '[]', '{"op": "leave"}', b'\x00'):
                assert inbox.send_nowait(data) is True
        assert len(caplog.records) == 4
        assert all('bad relayed request' in r.getMessage() for r in caplog.records)
        assert inbox.is_open
        # still serving: a resync is applied
        inbox.send_nowait('{"op": "resync"}')
    finally:
        await inbox.close()
        await room.close()


@pytest.mark.parametrize(
    ('encoding', 'sent_to'),
    [
        ('json', {'aiotao.game.state.r1'}),
        ('msgpack', {'aiotao.game.state.r1.msgpack'}),
        # said by no one (a worker of an older version): every encoding
        (None, {'aiotao.game.state.r1', 'aiotao.game.state.r1.msgpack'}),
    ],
)
async def test_a_relayed_player_gets_the_encoding_its_join_names(
    encoding: str | None, sent_to: set[str]
) -> None:
    sent: list[str] = []
    groups = Groups(InMemoryBackend())

    async def broadcast(group: str, data: str | bytes) -> None:
        if group.startswith('aiotao.game.state.'):
            sent.append(group)

    room = Room(Counters(random.Random(1)), id='r1', broadcast=broadcast, tick_rate=50)
    room.start()

    async def changed(room: Room) -> None:
        pass

    inbox = ControlInbox(room, groups, changed)
    request = {'op': 'join', 'conn': 'c1', 'name': 'bob', 'encoding': encoding}
    try:
        inbox.send_nowait(json.dumps(request))
        async with asyncio.timeout(2):
            while not room.humans:
                await asyncio.sleep(0.01)
        sent.clear()
        await asyncio.sleep(0.1)
        assert sent and set(sent) == sent_to
    finally:
        await inbox.close()
        await room.close()
