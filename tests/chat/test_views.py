"""Joining a room: welcome, history, presence; leaving; bad rooms; no database."""

from __future__ import annotations

import asyncio

import pytest

from aiotao.testing import TestClient, WebsocketRejected
from aiotao.websocket import ConnectionClosed
from tests.chat.conftest import StartClient
from tests.chat.messages import join, until


async def test_joining_gets_welcome_history_and_members_in_order(
    client: TestClient,
) -> None:
    async with client.websocket_connect('/chat/lobby') as ws:
        welcome = await ws.recv_json()
        assert welcome['type'] == 'welcome'
        assert welcome['room'] == 'lobby'
        assert welcome['nick'].startswith('guest-')
        assert welcome['max_length'] == 500
        assert await ws.recv_json() == {
            'type': 'history',
            'room': 'lobby',
            'messages': [],
        }
        nick = welcome['nick']
        assert await ws.recv_json() == {'type': 'joined', 'room': 'lobby', 'nick': nick}
        assert await ws.recv_json() == {
            'type': 'members',
            'room': 'lobby',
            'members': [nick],
        }


async def test_history_on_join_is_the_last_n_oldest_first(
    start_client: StartClient,
) -> None:
    client = await start_client(
        **{
            'aiotao.chat.history_size': '3',
            'aiotao.chat.rate': '100',
            'aiotao.chat.burst': '100',
        }
    )
    async with client.websocket_connect('/chat/lobby') as ws:
        await join(ws)
        for n in range(5):
            await ws.send_json({'type': 'say', 'id': n, 'text': f'message {n}'})
            await until(ws, 'reply', id=n)
    async with client.websocket_connect('/chat/other') as ws:
        assert (await join(ws))['history']['messages'] == []
    async with client.websocket_connect('/chat/lobby') as ws:
        history = (await join(ws))['history']['messages']
    assert [m['text'] for m in history] == ['message 2', 'message 3', 'message 4']
    assert all(m['room'] == 'lobby' and m['id'] and m['at'] for m in history)


async def test_presence_join_and_leave_are_announced(client: TestClient) -> None:
    async with client.websocket_connect(
        '/chat/lobby', headers={'X-User': 'ada'}
    ) as ada:
        await join(ada)
        async with client.websocket_connect(
            '/chat/lobby', headers={'X-User': 'bob'}
        ) as bob:
            assert (await join(bob))['members']['members'] == ['ada', 'bob']
            assert await until(ada, 'joined') == {
                'type': 'joined',
                'room': 'lobby',
                'nick': 'bob',
            }
            assert (await until(ada, 'members'))['members'] == ['ada', 'bob']
        assert await until(ada, 'left') == {
            'type': 'left',
            'room': 'lobby',
            'nick': 'bob',
        }
        assert (await until(ada, 'members'))['members'] == ['ada']


async def test_rooms_are_apart(client: TestClient) -> None:
    async with (
        client.websocket_connect('/chat/lobby', headers={'X-User': 'ada'}) as ada,
        client.websocket_connect('/chat/kitchen', headers={'X-User': 'bob'}) as bob,
    ):
        await join(ada)
        assert (await join(bob))['members']['members'] == ['bob']
        await bob.send_json({'type': 'say', 'id': 1, 'text': 'in the kitchen'})
        await until(bob, 'reply', id=1)
        await ada.send_json({'type': 'say', 'id': 2, 'text': 'in the lobby'})
        # ada's next message is her own: nothing from the kitchen came first
        assert (await until(ada, 'message'))['text'] == 'in the lobby'


async def test_the_nickname_comes_from_the_session(client: TestClient) -> None:
    # the page (an HTTP request) keeps the name in the session cookie
    assert (await client.get('/nick', params={'name': 'Ada L.'})).json == {
        'nick': 'Ada L.'
    }
    async with client.websocket_connect('/chat/lobby') as ws:
        assert (await join(ws))['welcome']['nick'] == 'Ada L.'


async def test_a_route_without_a_room_is_the_lobby(client: TestClient) -> None:
    async with client.websocket_connect('/lobby') as ws:
        assert (await join(ws))['welcome']['room'] == 'lobby'


@pytest.mark.parametrize('room', ['-x', 'a%20b', 'x' * 41, 'a%3Bb', '%3Cscript%3E'])
async def test_a_bad_room_is_refused_at_the_handshake(
    client: TestClient, room: str
) -> None:
    with pytest.raises(WebsocketRejected) as refused:
        async with client.websocket_connect(f'/chat/{room}'):
            pass
    assert refused.value.status_int == 404
    assert 'no chat room' in refused.value.response.text


async def test_without_the_database_the_client_is_told_to_come_back_later(
    start_client: StartClient,
) -> None:
    from tests.harness.gunicorn import free_port

    client = await start_client(
        **{
            'mongo.uri': f'mongodb://127.0.0.1:{free_port()}/chat',
            'mongo.option.serverSelectionTimeoutMS': '300',
        }
    )
    async with client.websocket_connect('/chat/lobby') as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.code == 1013
    assert 'database' in closed.value.reason


async def test_a_second_tab_is_no_news_and_closing_it_is_no_left(
    client: TestClient,
) -> None:
    async with client.websocket_connect(
        '/chat/lobby', headers={'X-User': 'bob'}
    ) as bob:
        await join(bob)
        async with client.websocket_connect(
            '/chat/lobby', headers={'X-User': 'ada'}
        ) as ada:
            await join(ada)
            assert (await until(bob, 'joined'))['nick'] == 'ada'
            async with client.websocket_connect(
                '/chat/lobby', headers={'X-User': 'ada'}
            ) as second_tab:
                # the tab gets the list, and the room hears nothing
                assert (await until(second_tab, 'welcome'))['nick'] == 'ada'
                members = await until(second_tab, 'members')
                assert members['members'] == ['ada', 'bob']
            await bob.send_json({'type': 'ping', 'id': 'after'})
            await until(bob, 'reply', id='after')
            await asyncio.sleep(0.6)  # past the linger of the tab
            await bob.send_json({'type': 'ping', 'id': 'later'})
            # nothing came between: no "ada joined", no "ada left"
            assert (await bob.recv_json())['id'] == 'later'
        assert (await until(bob, 'left'))['nick'] == 'ada'


async def test_a_page_keeps_a_guests_nickname_in_the_session(
    client: TestClient,
) -> None:
    token = (await client.get('/csrf')).json['token']
    url = '/_aiotao/chat/nickname'
    refused = await client.post(url, json={'nick': 'Ada'})
    assert refused.status_int == 400  # no CSRF token
    headers = {'X-CSRF-Token': token}
    bad = await client.post(url, json={'nick': '<i>Ada</i>'}, headers=headers)
    assert bad.status_int == 400 and "not '<', '>' or '/'" in bad.text
    kept = await client.post(url, json={'nick': ' Ada L. '}, headers=headers)
    assert kept.status_int == 200 and kept.json == {'nick': 'Ada L.'}
    async with client.websocket_connect('/chat/lobby') as ws:
        assert (await until(ws, 'welcome'))['nick'] == 'Ada L.'
    # a signed-in user's name cannot be kept; a signed-in user cannot rename
    async with client.websocket_connect('/chat/lobby', headers={'X-User': 'grace'}):
        pass
    taken = await client.post(url, json={'nick': 'GRACE'}, headers=headers)
    assert taken.status_int == 409
    signed_in = await client.post(
        url, json={'nick': 'x'}, headers={**headers, 'X-User': 'grace'}
    )
    assert signed_in.status_int == 403
