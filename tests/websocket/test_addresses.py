"""Sending to one user or one connection from anywhere (``request.realtime``).

In one process with the test client, then across real gunicorn masters
sharing a real Redis: an HTTP view on one master reaches the user's
sockets on two other masters' workers, and nobody else's.
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import websockets
from pyramid.config import Configurator

from aiotao.mappers import WebsocketMapper
from aiotao.testing import TestClient
from aiotao.websocket.addresses import user_group
from tests.harness.gunicorn import ServerFactory, ServerProcess, gunicorn  # noqa: F401
from tests.harness.redis import RedisServer, redis_server  # noqa: F401
from tests.pkgs import realtimeapp

WORKER = 'aiotao.serving.gunicorn.Worker'


def in_process_config() -> Configurator:
    config = Configurator(settings={})
    config.include('aiotao')
    config.set_security_policy(realtimeapp.HeaderPolicy())
    config.add_route('socket', '/socket')
    config.add_view(realtimeapp.socket, route_name='socket', mapper=WebsocketMapper)
    config.add_route('send', '/send')
    config.add_view(realtimeapp.send, route_name='send', renderer='json')
    config.add_route('send_connection', '/send_connection')
    config.add_view(
        realtimeapp.send_connection, route_name='send_connection', renderer='json'
    )
    return config


async def test_send_to_user_reaches_each_of_their_connections_only() -> None:
    async with TestClient(in_process_config()) as client:
        async with (
            client.websocket_connect('/socket', headers={'X-User': 'ada'}) as tab1,
            client.websocket_connect('/socket', headers={'X-User': 'ada'}) as tab2,
            client.websocket_connect('/socket', headers={'X-User': 'bob'}) as bob,
            client.websocket_connect('/socket') as anonymous,
        ):
            hellos = [await ws.recv_json() for ws in (tab1, tab2, bob, anonymous)]
            assert [h['userid'] for h in hellos] == ['ada', 'ada', 'bob', None]
            await client.post('/send?user=ada&text=hi')
            assert await tab1.recv_json() == {'type': 'note', 'text': 'hi'}
            assert await tab2.recv_json() == {'type': 'note', 'text': 'hi'}
            # bob and the anonymous connection got nothing: their next
            # message is the echo of what they send now
            for ws in (bob, anonymous):
                await ws.send('ping')
                assert await ws.recv() == 'ping'


async def test_send_to_connection_reaches_that_connection_only() -> None:
    async with TestClient(in_process_config()) as client:
        async with (
            client.websocket_connect('/socket', headers={'X-User': 'ada'}) as tab1,
            client.websocket_connect('/socket', headers={'X-User': 'ada'}) as tab2,
        ):
            address = (await tab1.recv_json())['address']
            await tab2.recv_json()
            query = urllib.parse.urlencode({'address': address, 'text': 'just you'})
            await client.post(f'/send_connection?{query}')
            assert await tab1.recv() == 'just you'
            await tab2.send('ping')
            assert await tab2.recv() == 'ping'


async def test_sending_to_a_user_with_no_connection_is_not_an_error() -> None:
    async with TestClient(in_process_config()) as client:
        response = await client.post('/send?user=nobody&text=lost')
        assert response.status_int == 200


async def test_address_groups_are_not_the_connections_groups() -> None:
    async with TestClient(in_process_config()) as client:
        async with client.websocket_connect('/socket', headers={'X-User': 'ada'}) as ws:
            assert (await ws.recv_json())['groups'] == []
    # and bad addressing is a clear error, not a send to 'aiotao.user:None'
    with pytest.raises(ValueError, match='needs a userid'):
        user_group(None)


def test_a_message_that_is_not_json_able_is_a_type_error() -> None:
    from aiotao.websocket.addresses import _encoded

    with pytest.raises(TypeError, match='JSON-able'):
        _encoded(object())


# -- across gunicorn masters, through Redis --------------------------------


def serve(
    gunicorn: ServerFactory,  # noqa: F811
    directory: Path,
    name: str,
    redis_url: str,
) -> ServerProcess:
    ini = directory / f'{name}.ini'
    ini.write_text(
        '[app:main]\n'
        'use = call:tests.pkgs.realtimeapp:main\n'
        f'aiotao.broadcast = {redis_url}\n'
        'aiotao.broadcast.timeout = 2\n'
    )
    return gunicorn(['--paste', str(ini), '-k', WORKER, '-w', '1'], ready_path='/hello')


async def open_socket(server: ServerProcess, user: str) -> tuple[Any, dict[str, Any]]:
    ws = await websockets.connect(
        server.url('/socket', scheme='ws'), additional_headers={'X-User': user}
    )
    hello = json.loads(await ws.recv())
    return ws, hello


def post(server: ServerProcess, path: str) -> dict[str, Any]:
    request = urllib.request.Request(server.url(path), method='POST', data=b'')
    with urllib.request.urlopen(request, timeout=10) as response:
        answer: dict[str, Any] = json.loads(response.read())
    return answer


async def nothing_arrives(ws: Any, within: float = 0.5) -> bool:
    try:
        async with asyncio.timeout(within):
            await ws.recv()
    except TimeoutError:
        return True
    return False


@pytest.mark.timeout(90)
async def test_send_to_user_from_one_master_reaches_their_sockets_on_two_others(
    gunicorn: ServerFactory,  # noqa: F811
    redis_server: RedisServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    sender, first, second = (
        serve(gunicorn, tmp_path, name, redis_server.url)
        for name in ('sender', 'first', 'second')
    )
    sockets = []
    try:
        ada1, hello1 = await open_socket(first, 'ada')
        ada2, hello2 = await open_socket(second, 'ada')
        bob1, bob_hello = await open_socket(first, 'bob')
        bob2, _ = await open_socket(second, 'bob')
        sockets = [ada1, ada2, bob1, bob2]
        workers = {hello1['worker'], hello2['worker']}
        assert len(workers) == 2 and bob_hello['worker'] == hello1['worker']

        answer = await asyncio.to_thread(post, sender, '/send?user=ada&text=hi')
        assert answer['sent_by'] not in workers  # a third process sent it
        for ws in (ada1, ada2):
            async with asyncio.timeout(5):
                assert json.loads(await ws.recv()) == {'type': 'note', 'text': 'hi'}
        assert await nothing_arrives(bob1) and await nothing_arrives(bob2)

        # one connection by its address, from the sending master too
        query = urllib.parse.urlencode({'address': hello2['address'], 'text': 'yours'})
        await asyncio.to_thread(post, sender, f'/send_connection?{query}')
        async with asyncio.timeout(5):
            assert await ada2.recv() == 'yours'
        assert await nothing_arrives(ada1)
    finally:
        for ws in sockets:
            await ws.close()


async def test_a_connection_refused_after_a_logout_no_longer_gets_the_users_messages() -> (
    None
):
    from tests.websocket.test_authorization import AsyncSessionPolicy, make_config

    config = make_config(AsyncSessionPolicy())
    config.add_route('send', '/send')
    config.add_view(realtimeapp.send, route_name='send', renderer='json')
    async with TestClient(config) as browser, TestClient(config) as sender:
        await browser.get('/visit')
        await browser.post('/login', data={'name': 'ada'})
        async with browser.websocket_connect('/board') as ws:
            # answered by the view, which runs once the connection is addressed
            await ws.send_json({'type': 'read', 'id': 0})
            assert (await ws.recv_json())['type'] == 'reply'
            await sender.post('/send?user=ada&text=before')
            assert await ws.recv_json() == {'type': 'note', 'text': 'before'}
            await browser.post('/logout')
            await ws.send_json({'type': 'post', 'id': 1})
            assert (await ws.recv_json())['code'] == 'forbidden'
            await sender.post('/send?user=ada&text=after')
            await ws.send_json({'type': 'read', 'id': 2})
            # the next thing it gets is the answer: 'after' never came
            assert (await ws.recv_json())['type'] == 'reply'
