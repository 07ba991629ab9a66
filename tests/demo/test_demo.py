"""The demo app that `make run` serves: its pages, in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from paste.deploy import loadapp

from aiotao.testing import TestClient

INI = Path(__file__).parents[2] / 'development.ini'


@pytest.fixture
async def client(aiotao_mongodb: Any) -> AsyncIterator[TestClient]:
    settings = {**aiotao_mongodb.settings, 'session.secret': 'demo-test-secret'}
    async with TestClient(str(INI), settings=settings) as client:
        yield client


async def test_home_links_every_page(client: TestClient) -> None:
    response = await client.get('/')
    assert response.status_int == 200
    for path in ('/echo-test', '/echo', '/items', '/page', '/sleep'):
        assert f'href="{path}"' in response.text


async def test_echo_test_page_points_at_the_websocket(client: TestClient) -> None:
    response = await client.get('/echo-test')
    assert 'data-echo-url="/echo"' in response.text
    assert (await client.get('/static/echo.js')).status_int == 200
    async with client.websocket_connect('/echo') as ws:
        await ws.send('ping')
        assert await ws.recv() == 'ping'


async def csrf_token(client: TestClient) -> str:
    page = await client.get('/items')
    return page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


async def test_items_page_stores_and_escapes(client: TestClient) -> None:
    token = await csrf_token(client)
    added = await client.post(
        '/items', data={'text': '<script>x</script>', 'csrf_token': token}
    )
    assert added.status_int == 303
    page = await client.get('/items')
    assert '<li>&lt;script&gt;x&lt;/script&gt;</li>' in page.text


async def test_items_refuses_empty_and_oversized_text(client: TestClient) -> None:
    token = await csrf_token(client)
    for text in ('', 'x' * 201):
        response = await client.post('/items', data={'text': text, 'csrf_token': token})
        assert response.status_int == 400


async def test_items_refuses_a_post_without_the_csrf_token(client: TestClient) -> None:
    await csrf_token(client)  # a session exists: the token is simply missing
    response = await client.post('/items', data={'text': 'forged'})
    assert response.status_int == 400
    assert 'forged' not in (await client.get('/items')).text


async def test_the_home_page_leads_with_the_chat_and_the_arena(
    client: TestClient,
) -> None:
    page = (await client.get('/')).text
    main = page.split('<main>', 1)[1]
    first_links = [part.split('"', 1)[0] for part in main.split('href="')[1:3]]
    assert first_links == ['/chat', '/game']


async def test_the_pages_share_one_stylesheet_and_an_icon(client: TestClient) -> None:
    for path in ('/', '/chat/lobby', '/game', '/echo-test', '/items', '/page'):
        page = (await client.get(path)).text
        for asset in ('style.css', 'favicon.svg'):
            href = page.split(f'/static/{asset}', 1)[0].rsplit('"', 1)[1]
            response = await client.get(href + f'/static/{asset}')
            assert response.status_int == 200, (path, asset)
    # the scaffold's projects get the same stylesheet and icon
    scaffold = Path(__file__).parents[2] / 'aiotao/scaffolds/websocket/+package+/static'
    demo = Path(__file__).parents[2] / 'demo/aiotao_demo/static'
    for asset in ('style.css', 'favicon.svg'):
        assert (scaffold / asset).read_text() == (demo / asset).read_text()


def test_egg_aiotao_is_no_application(tmp_path: Path) -> None:
    # the library declares no app: an ini still naming it fails, naming the egg
    ini = tmp_path / 'old.ini'
    ini.write_text('[app:main]\nuse = egg:aiotao\n')
    with pytest.raises(
        LookupError, match="Entry point 'main' not found in egg 'aiotao'"
    ):
        loadapp(f'config:{ini}')
