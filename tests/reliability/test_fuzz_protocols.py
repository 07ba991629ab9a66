"""Fuzzing the chat's and the game's JSON protocols, through their real views.

The demo app runs in-process (:class:`aiotao.testing.TestClient`: the
whole pipeline, the websocket views, MongoDB for the chat's history, no
sockets).  Each Hypothesis example opens a websocket and sends a burst of
messages: arbitrary text and bytes, JSON of any shape, and messages of
each protocol type whose fields hold values of any type.  Then a barrier
message whose answer must come, proving the connection still serves.

Every message gets a reply, an error naming the problem, or nothing;
never ``internal_error`` (a handler that raised), never a closed
connection other than the protocol's own policy closes.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiotao.testing import TestClient
from tests.reliability.conftest import write_demo_ini

#: Examples per protocol; each sends 5 to ``BURST`` messages (3,000 or more
#: cases per protocol: 10,000 or more with the 4,000 of test_fuzz_conversion).
EXAMPLES = 600
BURST = 12

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def protocol_messages(
    types: list[str], fields: list[str]
) -> st.SearchStrategy[str | bytes]:
    """Messages of ``types`` with ``fields`` of any value, and garbage."""
    shaped = st.fixed_dictionaries(
        {'type': st.sampled_from([*types, 'nope', 7, None, ''])},
        optional={'id': json_values, **dict.fromkeys(fields, json_values)},
    ).map(json.dumps)
    return st.one_of(
        shaped,
        shaped,  # twice as likely: these reach the handlers
        json_values.map(json.dumps),
        st.text(max_size=40),
        st.binary(max_size=20),
    )


CHAT = protocol_messages(['say', 'nick', 'ping'], ['text', 'name'])
GAME = protocol_messages(
    ['join', 'input', 'leave'],
    ['mode', 'code', 'name', 'token', 'bots', 'thrust', 'turn', 'fire', 'seq'],
)


@pytest.fixture
async def client(tmp_path: Path, mongo_uri: str) -> AsyncIterator[TestClient]:
    ini = write_demo_ini(
        tmp_path / 'demo.ini',
        mongo_uri,
        **{
            # the limits are tested elsewhere; here every message is handled
            'aiotao.chat.rate': '100000',
            'aiotao.chat.burst': '100000',
            'aiotao.game.max_messages_per_second': '10000',
            'aiotao.game.max_rooms': '4',
            'aiotao.game.empty_timeout': '0.2',
        },
    )
    async with TestClient(str(ini)) as client:
        yield client


async def exchange(
    client: TestClient, path: str, burst: list[str | bytes], barrier: dict[str, Any]
) -> list[dict[str, Any]]:
    """Send ``burst`` then ``barrier``; every message received up to its answer."""
    received: list[dict[str, Any]] = []
    async with client.websocket_connect(path) as ws:
        for message in burst:
            await ws.send(message)
        await ws.send(json.dumps(barrier))
        while True:
            answer = json.loads(await ws.recv())
            received.append(answer)
            if answer.get('id') == barrier['id']:
                return received


def assert_no_internal_error(received: list[dict[str, Any]]) -> None:
    for answer in received:
        assert isinstance(answer, dict) and 'type' in answer, answer
        if answer['type'] == 'error':
            assert answer['code'] != 'internal_error', answer
            assert answer['message'], answer


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.mark.timeout(120)
@FUZZ
@given(burst=st.lists(CHAT, min_size=5, max_size=BURST))
async def test_any_chat_message_gets_a_reply_an_error_or_nothing(
    client: TestClient, burst: list[str | bytes]
) -> None:
    barrier = {'type': 'ping', 'id': 'barrier'}
    received = await exchange(client, '/chat/fuzz/socket', burst, barrier)
    assert received[-1]['type'] == 'reply' and received[-1]['data'] == 'pong'
    assert_no_internal_error(received)


@pytest.mark.timeout(120)
@FUZZ
@given(burst=st.lists(GAME, min_size=5, max_size=BURST))
async def test_any_game_message_gets_a_reply_an_error_or_nothing(
    client: TestClient, burst: list[str | bytes]
) -> None:
    # an unknown type with an id: its error is the answer that must come
    barrier = {'type': 'barrier', 'id': 'barrier'}
    received = await exchange(client, '/game/ws', burst, barrier)
    assert received[-1]['type'] == 'error' and received[-1]['code'] == 'unknown_type'
    assert_no_internal_error(received)
