"""After a broker outage, a room's members here get its history again, missed messages included."""

from __future__ import annotations

from aiotao.chat.history import get_history
from aiotao.chat.resync import resync_rooms
from aiotao.chat.rooms import group_name
from aiotao.testing import TestClient
from tests.chat.messages import join, until


async def test_members_get_the_history_again_with_what_they_missed(
    client: TestClient,
) -> None:
    registry = client.registry
    async with (
        client.websocket_connect('/chat/lobby') as ws,
        client.websocket_connect('/chat/other') as elsewhere,
    ):
        await join(ws)
        await join(elsewhere)
        await ws.send_json({'type': 'say', 'id': 1, 'text': 'heard live'})
        await until(ws, 'reply', id=1)
        # stored by another worker while the broker was away: never broadcast here
        missed = await get_history(registry).store('lobby', 'bob', 'missed')

        rooms = await resync_rooms(
            registry, frozenset({group_name('lobby'), 'aiotao.game.state.r1'})
        )
        assert rooms == 1  # the chat's rooms only
        history = await until(ws, 'history')
        assert history['resync'] is True and history['room'] == 'lobby'
        assert [m['text'] for m in history['messages']][-2:] == ['heard live', 'missed']
        assert history['messages'][-1]['id'] == missed.id
        # a room not named was not resent
        await elsewhere.send_json({'type': 'ping', 'id': 2})
        before_reply = []
        while (message := await elsewhere.recv_json())['type'] != 'reply':
            before_reply.append(message['type'])
        assert 'history' not in before_reply
