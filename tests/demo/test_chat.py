"""The demo's chat page: in-process, then in chromium with two pages chatting.

The browser tests serve the demo with gunicorn (aiotao's worker) and drive
the real page and its script: messages between two people, presence,
escaped output (a message that is an XSS attempt shows as text and runs
nothing), a burst over the rate limit queued on the page and delivered
whole, and the page reconnecting by itself when
its worker is killed.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from aiotao.testing import TestClient
from tests.harness.gunicorn import ServerFactory, ServerProcess, gunicorn
from tests.harness.mongodb import mongo_uri, mongodb

__all__ = ['gunicorn', 'mongo_uri', 'mongodb']

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


@pytest.fixture
async def client(mongo_uri: str) -> AsyncIterator[TestClient]:
    settings = {'mongo.uri': mongo_uri, 'session.secret': 'demo-test-secret'}
    async with TestClient(str(INI), settings=settings) as client:
        yield client


async def test_the_home_page_links_the_chat(client: TestClient) -> None:
    assert 'href="/chat"' in (await client.get('/')).text
    response = await client.get('/chat')
    assert response.status_int == 302
    assert response.headers['Location'].endswith('/chat/lobby')


async def test_the_page_and_its_websocket_know_the_same_guest(
    client: TestClient,
) -> None:
    page = await client.get('/chat/lobby')
    assert page.status_int == 200
    assert 'data-socket-url="/chat/lobby/socket"' in page.text
    nick = page.text.split('<strong id="nick">', 1)[1].split('<', 1)[0]
    assert nick.startswith('guest-')
    # the session cookie from the page names the websocket's guest
    async with client.websocket_connect('/chat/lobby/socket') as ws:
        welcome = await ws.recv_json()
    assert welcome['nick'] == nick
    assert nick in (await client.get('/chat/kitchen')).text


async def test_a_bad_room_is_404(client: TestClient) -> None:
    assert (await client.get('/chat/%3Cscript%3E')).status_int == 404


def write_ini(path: Path, mongo_uri: str) -> Path:
    path.write_text(
        '\n'.join(
            [
                '[app:main]',
                'use = egg:aiotao_demo',
                f'mongo.uri = {mongo_uri}',
                'mongo.option.serverSelectionTimeoutMS = 3000',
                # a test's own secret, in the test's own directory
                'session.secret = demo-chat-test-secret',
                'aiotao.presence.timeout = 2',
                'aiotao.presence.heartbeat = 0.5',
                '',
            ]
        )
    )
    return path


@pytest.fixture
def served(gunicorn: ServerFactory, tmp_path: Path, mongo_uri: str) -> ServerProcess:
    ini = write_ini(tmp_path / 'demo.ini', mongo_uri)
    return gunicorn(
        ['--paste', str(ini), '-k', 'aiotao.serving.gunicorn.Worker', '-w', '1'],
        ready_path='/hello',
    )


@pytest.fixture
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(
            'Debian chromium is needed: apt-get install chromium', pytrace=False
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def open_chat(browser: Any, url: str, dialogs: list[str]) -> Any:
    """A page of its own (a browser context: its own session cookie)."""
    page = browser.new_context().new_page()
    page.on('dialog', lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(url)
    page.wait_for_selector('#chat[data-state="open"]', timeout=15000)
    return page


#: Keeps every state the chat's root element goes through in
#: ``window.chatStates``: a wait for one would miss a state already left.
RECORD_STATES = """() => {
    const root = document.getElementById('chat');
    window.chatStates = [root.dataset.state];
    new MutationObserver(() => window.chatStates.push(root.dataset.state))
        .observe(root, {attributes: true, attributeFilter: ['data-state']});
}"""


def say(page: Any, text: str) -> None:
    page.fill('#text', text)
    page.press('#text', 'Enter')


def texts(page: Any) -> list[str]:
    return page.locator('#messages li.message .text').all_text_contents()  # type: ignore[no-any-return]


@pytest.mark.timeout(90)
def test_two_pages_chat_in_chromium(
    served: ServerProcess, browser: Any, tmp_path: Path
) -> None:
    dialogs: list[str] = []
    url = served.url('/chat/lobby')
    one = open_chat(browser, url, dialogs)
    two = open_chat(browser, url, dialogs)
    nick_one = one.text_content('#nick')
    nick_two = two.text_content('#nick')
    assert nick_one != nick_two and nick_one.startswith('guest-')

    # presence: each sees both, and one saw two arrive
    for page in (one, two):
        page.wait_for_function(
            'n => document.querySelectorAll("#members li").length === n', arg=2
        )
    assert sorted(one.locator('#members li').all_text_contents()) == sorted(
        [nick_one, nick_two]
    )
    one.wait_for_selector(f'#messages li.event:has-text("{nick_two} joined")')

    say(one, 'hello from one')
    two.wait_for_selector('#messages li.message:has-text("hello from one")')
    assert two.locator('#messages li.message .nick').last.text_content() == nick_one

    # escaped output: markup arrives as text, and nothing runs
    attacks = [
        '<img src=x onerror="window.__xss = 1; alert(1)">',
        '<script>window.__xss = 2; alert(2)</script>',
    ]
    for attack in attacks:
        say(two, attack)
        one.wait_for_function(
            'text => [...document.querySelectorAll("#messages .text")]'
            '.some(e => e.textContent === text)',
            arg=attack,
        )
    assert texts(one)[-2:] == attacks
    for page in (one, two):
        assert page.evaluate('window.__xss') is None
        assert page.locator('#messages img, #messages script').count() == 0
    assert dialogs == []

    # the rate limit (2/s, 5 at once): a burst waits on the page, none is lost
    one.evaluate(
        """() => {
            const form = document.getElementById('say');
            for (let n = 0; n < 8; n++) {
                document.getElementById('text').value = 'burst ' + n;
                form.requestSubmit();
            }
        }"""
    )
    one.wait_for_selector('#outbox:has-text("wait")')
    two.wait_for_function(
        'document.querySelectorAll("#messages li.message").length >= 11', timeout=15000
    )
    assert texts(two)[-8:] == [f'burst {n}' for n in range(8)]

    one.screenshot(path=str(tmp_path / 'chat.png'))
    assert (tmp_path / 'chat.png').stat().st_size > 5000


@pytest.mark.timeout(90)
def test_the_page_reconnects_when_its_worker_is_killed(
    served: ServerProcess, browser: Any
) -> None:
    dialogs: list[str] = []
    url = served.url('/chat/lobby')
    one = open_chat(browser, url, dialogs)
    two = open_chat(browser, url, dialogs)
    say(one, 'before the crash')
    two.wait_for_selector('#messages li.message:has-text("before the crash")')

    for page in (one, two):  # "closed" lasts half a second: record it
        page.evaluate(RECORD_STATES)
    (worker,) = served.worker_pids()
    os.kill(worker, signal.SIGKILL)
    for page in (one, two):
        page.wait_for_function('window.chatStates.includes("closed")', timeout=10000)
    deadline = time.monotonic() + 30
    while len(served.worker_pids()) < 2:  # gunicorn boots a new worker
        assert time.monotonic() < deadline, served.log()
        time.sleep(0.1)
    for page in (one, two):
        page.wait_for_selector('#chat[data-state="open"]', timeout=30000)

    say(two, 'after the crash')
    one.wait_for_selector('#messages li.message:has-text("after the crash")')
    # the history sent again on rejoining is not shown twice
    assert texts(one).count('before the crash') == 1
    assert texts(two).count('before the crash') == 1
