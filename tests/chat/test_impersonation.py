"""Nobody passes for someone else: nicknames are unique in a room, signed-in names are theirs.

A guest renaming itself to the nickname of a member present (the same,
another case, a look-alike with Cyrillic letters or extra separators) is
refused with ``nick_taken``, and its messages keep its own name; a
signed-in user's name is refused to everyone else with ``nick_reserved``,
in every room and after they left.  A guest arriving with a name that is
taken gets a variant of it, and is told so; a guest going by a signed-in
user's name gives it back when that user arrives.
"""

from __future__ import annotations

import asyncio

import pytest

from aiotao.testing import TestClient
from aiotao.testing.cookies import CookieJar
from tests.chat.conftest import StartClient
from tests.chat.messages import join, until

GENEROUS = {'aiotao.chat.rate': '1000', 'aiotao.chat.burst': '1000'}


async def rename(ws: object, name: str, id: int) -> dict[str, object]:
    """Ask for ``name``; the reply or the error."""
    await ws.send_json({'type': 'nick', 'id': id, 'name': name})  # type: ignore[attr-defined]
    while True:
        message = await ws.recv_json()  # type: ignore[attr-defined]
        if message.get('id') == id and message['type'] in ('reply', 'error'):
            return message  # type: ignore[no-any-return]


async def set_session_nick(client: TestClient, name: str) -> None:
    assert (await client.get('/nick', params={'name': name})).status_int == 200


@pytest.mark.parametrize(
    'disguise',
    [
        'bob',
        'BOB',
        'B0b',
        '\u0432\u043e\u0432'.upper(),  # Cyrillic Ve, O, Ve
        'b.o.b',
        'b_ob',
    ],
)
async def test_a_guest_cannot_take_the_nickname_of_a_member(
    start_client: StartClient, disguise: str
) -> None:
    client = await start_client(**GENEROUS)
    async with (
        client.websocket_connect('/chat/lobby') as bob,
        client.websocket_connect('/chat/lobby') as mallory,
    ):
        await rename(bob, 'bob', 1)
        seen = await join(mallory)
        own = seen['welcome']['nick']
        refused = await rename(mallory, disguise, 2)
        assert refused['type'] == 'error'
        assert refused['code'] == 'nick_taken'
        assert "'bob' is here" in str(refused['message'])
        # what mallory says reaches everyone under mallory's own name
        await mallory.send_json(
            {'type': 'say', 'id': 3, 'text': 'send me your password'}
        )
        assert (await until(bob, 'message'))['nick'] == own


async def test_a_signed_in_users_name_is_theirs_alone(client: TestClient) -> None:
    async with client.websocket_connect(
        '/chat/lobby', headers={'X-User': 'ada'}
    ) as ada:
        await join(ada)
        async with client.websocket_connect('/chat/kitchen') as guest:
            await join(guest)
            # in another room, and in any case or look-alike
            for n, name in enumerate(['ada', 'ADA', '\u0430da']):
                refused = await rename(guest, name, n)
                assert refused['code'] == 'nick_reserved', refused
    # ada left (once her connection's linger is over): her name is still hers
    await asyncio.sleep(0.6)
    async with client.websocket_connect('/chat/lobby') as guest:
        await join(guest)
        assert (await rename(guest, 'Ada', 9))['code'] == 'nick_reserved'
        assert (await rename(guest, 'Adam', 10))['type'] == 'reply'


async def test_a_guest_arriving_with_a_taken_name_gets_a_variant(
    client: TestClient,
) -> None:
    await set_session_nick(client, 'zoe')
    zoes_browser = client.cookies
    async with client.websocket_connect('/chat/lobby') as first:
        assert (await join(first))['welcome']['nick'] == 'zoe'
        # another browser (a session of its own) whose guest is also Zoe
        client.cookies = CookieJar(client.base_url + '/')
        await set_session_nick(client, 'Zoe')
        async with client.websocket_connect('/chat/lobby') as second:
            welcome = (await join(second))['welcome']
            assert welcome['nick'] == 'Zoe 2'
            assert welcome['notice'] == (
                "'Zoe' is taken in this room: you are 'Zoe 2' here"
            )
            # the first zoe in a second tab: the same member, the same name
            client.cookies = zoes_browser
            async with client.websocket_connect('/chat/lobby') as tab:
                assert (await until(tab, 'welcome'))['nick'] == 'zoe'
                members = await until(tab, 'members')
                assert members['members'] == ['zoe', 'Zoe 2']


async def test_a_signed_in_user_arriving_takes_their_name_back(
    client: TestClient,
) -> None:
    async with client.websocket_connect('/chat/lobby') as guest:
        await join(guest)
        assert (await rename(guest, 'grace', 1))['type'] == 'reply'
        async with client.websocket_connect(
            '/chat/lobby', headers={'X-User': 'grace'}
        ) as grace:
            assert (await join(grace))['welcome']['nick'] == 'grace'
            told = await until(guest, 'error', code='nick_reserved')
            assert told['nick'] == 'grace 2'
            renamed = await until(grace, 'renamed')
            assert (renamed['old'], renamed['nick']) == ('grace', 'grace 2')
            members = await until(grace, 'members', members=['grace', 'grace 2'])
            assert members['members'] == ['grace', 'grace 2']
