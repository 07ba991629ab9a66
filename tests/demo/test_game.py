"""The demo's arena page: served with its script, and played in a real browser.

The browser test opens two chromium pages on the demo app (served by the
aiotao worker's handler in the test's loop), puts them in one private room
and checks that each page shows the other's ship moving after key presses,
and that a page whose connection drops gets its seat back; and that a page
whose public room closes joins another by itself.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import websockets

from aiotao.testing import TestClient
from aiotao.testing.loading import load_ini_app
from tests.websocket.servers import RunningServer, serve

INI = Path(__file__).parents[2] / 'development.ini'
CHROMIUM = Path('/usr/bin/chromium')
CHROMIUM_ARGS = [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
]


async def test_the_game_page_loads_its_script_from_the_app(aiotao_mongodb: Any) -> None:
    async with TestClient(str(INI), settings=aiotao_mongodb.settings) as client:
        home = await client.get('/')
        assert 'href="/game"' in home.text
        page = await client.get('/game')
        assert page.status_int == 200
        assert 'data-ws-url="/game/ws"' in page.text
        script = page.text.split('<script src="', 1)[1].split('"', 1)[0]
        assert script.startswith(
            '/static/arena.js'
        )  # the demo's own, no CDN, no other host
        assert 'http' not in page.text.split('<body>', 1)[1].split('<a href')[0]
        served = await client.get(script)
        assert served.status_int == 200
        assert 'aiotaoArena' in served.text
        async with client.websocket_connect('/game/ws') as ws:
            hello = await ws.recv_json()
            assert hello['type'] == 'hello' and hello['tick_rate'] == 20
            await ws.send_json({'type': 'join', 'mode': 'create', 'bots': 3, 'id': 1})
            while (message := await ws.recv_json())['type'] != 'reply':
                pass
            room = message['data']['room']
            metrics = (await client.get('/game/metrics')).json
            assert room in metrics['rooms']
            assert metrics['rooms'][room]['ticks'] >= 0


@pytest.fixture
async def demo(aiotao_mongodb: Any) -> AsyncIterator[RunningServer]:
    app = load_ini_app(str(INI), settings=aiotao_mongodb.settings)
    async with serve('aiohttp', app) as server:
        yield server


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Debian's chromium, headless, driven by Playwright."""
    if not CHROMIUM.exists():
        pytest.fail('Debian chromium is needed: apt-get install chromium')
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def crashing_demo(aiotao_mongodb: Any) -> AsyncIterator[RunningServer]:
    """The demo whose arena fails on any tick with a player named 'boom'."""
    settings = {
        **aiotao_mongodb.settings,
        'aiotao.game.rules': 'tests.game.app.CrashingArena',
    }
    app = load_ini_app(str(INI), settings=settings)
    async with serve('aiohttp', app) as server:
        yield server


async def _ship(page: Any, id: str) -> dict[str, float] | None:
    return await page.evaluate(  # type: ignore[no-any-return]
        '(id) => window.aiotaoArena.players()[id] || null', id
    )


async def _wait_moved(page: Any, id: str, start: dict[str, float]) -> None:
    await page.wait_for_function(
        """([id, x, y]) => {
            const p = window.aiotaoArena.players()[id];
            return p && Math.hypot(p.x - x, p.y - y) > 30;
        }""",
        arg=[id, start['x'], start['y']],
        timeout=10000,
    )


@pytest.mark.timeout(90)
async def test_two_pages_see_each_other_move(
    demo: RunningServer, browser: Any, tmp_path: Path
) -> None:
    ana, bob = await browser.new_page(), await browser.new_page()
    for page, name in ((ana, 'ana'), (bob, 'bob')):
        await page.goto(demo.http('/game'))
        await page.wait_for_selector('[data-role=status]:has-text("pick a room")')
        await page.fill('[data-role=name]', name)
    await ana.click('button[data-join="private"]')
    await ana.wait_for_function('window.aiotaoArena.seat() !== null')
    code = await ana.input_value('[data-role=code]')
    assert len(code) == 5
    await bob.fill('[data-role=code]', code)
    await bob.click('button[data-join="code"]')
    await bob.wait_for_function('window.aiotaoArena.seat() !== null')
    ana_id = await ana.evaluate('window.aiotaoArena.seat()')
    bob_id = await bob.evaluate('window.aiotaoArena.seat()')
    assert await ana.evaluate('window.aiotaoArena.room()') == await bob.evaluate(
        'window.aiotaoArena.room()'
    )
    for page in (ana, bob):
        await page.wait_for_function(
            'Object.keys(window.aiotaoArena.players()).length === 2'
        )
    await ana.screenshot(path=str(tmp_path / 'before.png'))

    start = await _ship(bob, ana_id)
    assert start is not None
    await ana.keyboard.down('d')
    await _wait_moved(bob, ana_id, start)
    await ana.keyboard.up('d')

    start = await _ship(ana, bob_id)
    assert start is not None
    await bob.keyboard.down('ArrowDown')
    await _wait_moved(ana, bob_id, start)
    await bob.keyboard.up('ArrowDown')

    # bob's connection drops: the page reconnects to the same seat
    await bob.evaluate('window.aiotaoArena.drop()')
    await bob.wait_for_selector('[data-role=status]:has-text("seat kept")')
    assert await bob.evaluate('window.aiotaoArena.seat()') == bob_id

    await ana.screenshot(path=str(tmp_path / 'ana.png'))
    await bob.screenshot(path=str(tmp_path / 'bob.png'))
    names = await ana.locator('[data-role=scores] li').all_text_contents()
    assert sorted(name.split(':')[0] for name in names) == ['ana', 'bob']
    for shot in ('before.png', 'ana.png', 'bob.png'):
        assert (tmp_path / shot).stat().st_size > 5000


@pytest.mark.timeout(90)
async def test_a_page_whose_room_closes_joins_another(
    crashing_demo: RunningServer, browser: Any
) -> None:
    page = await browser.new_page()
    await page.goto(crashing_demo.http('/game'))
    await page.wait_for_selector('[data-role=status]:has-text("pick a room")')
    await page.fill('[data-role=name]', 'ana')
    await page.click('button[data-join="quick"]')
    await page.wait_for_function('window.aiotaoArena.seat() !== null')
    first = await page.evaluate('window.aiotaoArena.room()')
    # a player the rules fail on quick-joins the same (fullest) room
    async with websockets.connect(
        crashing_demo.ws('/game/ws'), origin=crashing_demo.origin
    ) as boom:
        await boom.send(
            json.dumps({'type': 'join', 'mode': 'quick', 'name': 'boom', 'id': 1})
        )
        joined = None
        while joined is None:
            message = json.loads(await boom.recv())
            if message['type'] == 'reply':
                joined = message['data']['room']
        assert joined == first
        # the room fails and closes; the page plays on in another
        await page.wait_for_function(
            """(first) => {
                const room = window.aiotaoArena.room();
                return room !== null && room !== first
                    && window.aiotaoArena.seat() !== null;
            }""",
            arg=first,
            timeout=15000,
        )
    status = await page.text_content('[data-role=status]')
    assert status is not None and status.startswith('ana in room'), status
