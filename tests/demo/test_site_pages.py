"""Every page of the demo in chromium: nothing missing, no script error; the landing page."""

from __future__ import annotations

from typing import Any

import pytest

from tests.demo.browser import (
    DemoFactory,
    Shots,
    browser,
    demo_on_two_workers,
    new_page,
    shots,
)
from tests.harness.gunicorn import gunicorn
from tests.harness.mongodb import mongo_uri, mongodb
from tests.harness.redis import redis_server

__all__ = [
    'browser',
    'demo_on_two_workers',
    'gunicorn',
    'mongo_uri',
    'mongodb',
    'redis_server',
    'shots',
]


@pytest.mark.timeout(90)
def test_every_page_loads_whole_and_the_landing_page_leads_with_chat_and_game(
    demo_on_two_workers: DemoFactory, browser: Any, shots: Shots
) -> None:
    server = demo_on_two_workers()
    problems: list[str] = []
    page = new_page(browser, problems, viewport={'width': 1280, 'height': 800})
    page.goto(server.url('/'))
    cards = page.locator('.card h2').all_text_contents()
    assert cards == ['Chat', 'Arena']
    # styled: the header bar is dark, the cards laid side by side
    assert (
        page.evaluate(
            "getComputedStyle(document.querySelector('header.site')).backgroundColor"
        )
        == 'rgb(16, 20, 28)'
    )
    boxes = [page.locator('.card').nth(n).bounding_box() for n in range(2)]
    assert boxes[0]['y'] == boxes[1]['y'] and boxes[0]['x'] < boxes[1]['x']
    shots.take(page, 'home')
    for path in ('/chat/lobby', '/game', '/echo-test', '/items', '/page'):
        page.goto(server.url(path))
        page.wait_for_load_state('networkidle')
    page.goto(server.url('/'))
    page.click('.card a:has-text("Play")')
    page.wait_for_url('**/game')
    assert problems == []
