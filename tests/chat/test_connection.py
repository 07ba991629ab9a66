"""One client's messages: say (stored, then acknowledged), validation, limits, nick, ping."""

from __future__ import annotations

from typing import Any

import pytest
from bson import ObjectId

from aiotao.chat.history import MESSAGES_COLLECTION
from aiotao.testing import TestClient
from aiotao.websocket import ConnectionClosed
from tests.chat.conftest import StartClient
from tests.chat.messages import join, until

GENEROUS = {'aiotao.chat.rate': '1000', 'aiotao.chat.burst': '1000'}


async def test_a_message_reaches_the_room_and_is_acknowledged_once_stored(
    start_client: StartClient, mongo_db: Any
) -> None:
    client = await start_client()
    async with (
        client.websocket_connect('/chat/lobby', headers={'X-User': 'ada'}) as ada,
        client.websocket_connect('/chat/lobby', headers={'X-User': 'bob'}) as bob,
    ):
        await join(ada)
        await join(bob)
        await ada.send_json({'type': 'say', 'id': 'a1', 'text': '  hello <b>bob</b>  '})
        heard = await until(bob, 'message')
        assert heard['nick'] == 'ada'
        assert heard['text'] == 'hello <b>bob</b>'  # stored as typed, stripped
        assert heard['room'] == 'lobby'
        # the sender hears its own message too (one view of the room)...
        assert await until(ada, 'message') == heard
        # ...and then the acknowledgement, naming it
        reply = await ada.recv_json()
        assert reply == {
            'type': 'reply',
            'id': 'a1',
            'data': {'id': heard['id'], 'at': heard['at']},
        }
        stored = mongo_db[MESSAGES_COLLECTION].find_one({'_id': ObjectId(heard['id'])})
        assert stored['text'] == 'hello <b>bob</b>'


async def test_a_message_that_cannot_be_stored_is_not_acknowledged(
    start_client: StartClient, private_mongodb: Any
) -> None:
    client = await start_client(
        **{
            'mongo.uri': private_mongodb.uri_for('chat'),
            'mongo.option.serverSelectionTimeoutMS': '500',
        }
    )
    async with client.websocket_connect('/chat/lobby') as ws:
        await join(ws)
        private_mongodb.stop()
        await ws.send_json({'type': 'say', 'id': 1, 'text': 'lost?'})
        error = await ws.recv_json()
        assert error == {
            'type': 'error',
            'id': 1,
            'code': 'unavailable',
            'message': 'the message could not be stored: send it again',
        }
        private_mongodb.start()


@pytest.mark.parametrize(
    ('sent', 'code', 'field'),
    [
        ('{"type": "say", "id": 1, "text": ""}', 'invalid', 'text'),
        ('{"type": "say", "id": 1, "text": " \\u0000\\n "}', 'invalid', 'text'),
        ('{"type": "say", "id": 1, "text": 5}', 'invalid', 'text'),
        ('{"type": "say", "id": 1, "txt": "hi"}', 'invalid', 'txt'),
        ('{"type": "shout", "id": 1, "text": "hi"}', 'unknown_type', None),
        ('{"type": "say", "text": "hi"', 'bad_json', None),
        ('[1, 2]', 'bad_json', None),
        ('{"text": "hi"}', 'bad_message', None),
    ],
)
async def test_bad_messages_get_an_error_and_the_connection_stays_open(
    client: TestClient, sent: str, code: str, field: str | None
) -> None:
    async with client.websocket_connect('/chat/lobby') as ws:
        await join(ws)
        await ws.send(sent)
        error = await until(ws, 'error')
        assert error['code'] == code
        if field is not None:
            assert [e['field'] for e in error['errors']] == [field]
        await ws.send_json({'type': 'ping', 'id': 'p'})
        assert (await until(ws, 'reply', id='p'))['data'] == 'pong'


async def test_the_length_limit_comes_from_the_settings(
    start_client: StartClient,
) -> None:
    client = await start_client(**{'aiotao.chat.max_length': '10'})
    async with client.websocket_connect('/chat/lobby') as ws:
        assert (await join(ws))['welcome']['max_length'] == 10
        await ws.send_json({'type': 'say', 'id': 1, 'text': 'x' * 11})
        error = await until(ws, 'error')
        assert error['code'] == 'invalid'
        assert error['errors'] == [
            {'field': 'text', 'problem': 'must be at most 10 long'}
        ]
        # surrounding whitespace does not count
        await ws.send_json({'type': 'say', 'id': 2, 'text': '  ' + 'x' * 10 + '  '})
        assert (await until(ws, 'message'))['text'] == 'x' * 10


async def test_control_characters_are_removed(client: TestClient) -> None:
    async with client.websocket_connect('/chat/lobby') as ws:
        await join(ws)
        await ws.send_json({'type': 'say', 'text': 'a\x00b\x1b[2Jc\u202ed'})
        assert (await until(ws, 'message'))['text'] == 'ab[2Jcd'


async def test_over_the_rate_limit_messages_are_refused_not_stored(
    start_client: StartClient, mongo_db: Any
) -> None:
    client = await start_client(
        **{
            'aiotao.chat.rate': '0.1',
            'aiotao.chat.burst': '2',
            'aiotao.chat.close_after': '5',
        }
    )
    async with client.websocket_connect('/chat/lobby') as ws:
        await join(ws)
        for n in range(3):
            await ws.send_json({'type': 'say', 'id': n, 'text': f'm{n}'})
        await until(ws, 'reply', id=1)
        error = await until(ws, 'error')
        assert error['code'] == 'rate_limited'
        assert error['id'] == 2  # the page puts its text back in the input
        assert mongo_db[MESSAGES_COLLECTION].count_documents({}) == 2


async def test_a_flooding_client_is_closed_with_1008(start_client: StartClient) -> None:
    client = await start_client(
        **{
            'aiotao.chat.rate': '0.1',
            'aiotao.chat.burst': '1',
            'aiotao.chat.close_after': '3',
        }
    )
    async with client.websocket_connect('/chat/lobby') as ws:
        await join(ws)
        for n in range(6):
            await ws.send_json({'type': 'ping', 'id': n})
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await ws.recv()
    assert closed.value.code == 1008
    assert closed.value.reason == 'rate limit exceeded'


async def test_a_guest_may_rename_and_the_room_is_told(
    start_client: StartClient,
) -> None:
    client = await start_client(**GENEROUS)
    async with (
        client.websocket_connect('/chat/lobby', headers={'X-User': 'ada'}) as ada,
        client.websocket_connect('/chat/lobby') as guest,
    ):
        await join(ada)
        old = (await join(guest))['welcome']['nick']
        # not silently mangled: refused, saying why
        await guest.send_json({'type': 'nick', 'id': 0, 'name': ' Grace <3 '})
        refused = await until(guest, 'error', id=0)
        assert refused['code'] == 'invalid'
        assert "not '<'" in refused['message']
        await guest.send_json({'type': 'nick', 'id': 1, 'name': ' Grace H. '})
        assert (await until(guest, 'reply', id=1))['data'] == {'nick': 'Grace H.'}
        assert await until(ada, 'renamed') == {
            'type': 'renamed',
            'room': 'lobby',
            'nick': 'Grace H.',
            'old': old,
        }
        assert (await until(ada, 'members'))['members'] == ['ada', 'Grace H.']
        await guest.send_json({'type': 'say', 'text': 'hi'})
        assert (await until(ada, 'message'))['nick'] == 'Grace H.'
        # a signed-in user keeps the name of the identity
        await ada.send_json({'type': 'nick', 'id': 2, 'name': 'admin'})
        assert (await until(ada, 'error', id=2))['code'] == 'not_allowed'
        await guest.send_json({'type': 'nick', 'id': 3, 'name': '<>'})
        assert (await until(guest, 'error', id=3))['code'] == 'invalid'
