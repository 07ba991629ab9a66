"""The demo app that `make run` serves: its pages, in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from aiotao.testing import TestClient

INI = Path(__file__).parents[2] / 'development.ini'


@pytest.fixture
async def client(aiotao_mongodb: Any) -> AsyncIterator[TestClient]:
    async with TestClient(str(INI), settings=aiotao_mongodb.settings) as client:
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


async def test_items_page_stores_and_escapes(client: TestClient) -> None:
    added = await client.post('/items', data={'text': '<script>x</script>'})
    assert added.status_int == 303
    page = await client.get('/items')
    assert '<li>&lt;script&gt;x&lt;/script&gt;</li>' in page.text


async def test_items_refuses_empty_and_oversized_text(client: TestClient) -> None:
    assert (await client.post('/items', data={'text': ''})).status_int == 400
    assert (await client.post('/items', data={'text': 'x' * 201})).status_int == 400
