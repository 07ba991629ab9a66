"""The demo's chat in chromium, on two gunicorn workers sharing Redis.

Each test opens two or more pages (browser contexts of their own: other
people), on both workers, and checks what a person sees: one "joined" per
person however many tabs, no "left" while a tab is still open nor when a
worker is killed under them, a nickname box that explains a refusal and
survives a reload, a counter instead of a silent cut, and every message of
a quick burst delivered.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest

from tests.demo.browser import (
    PRESENCE,
    DemoFactory,
    Shots,
    browser,
    demo_on_two_workers,
    new_page,
    on_worker,
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

READY = (
    "document.getElementById('chat').dataset.state === 'open'"
    " && document.getElementById('chat').dataset.worker || null"
)
TIMEOUT = float(PRESENCE['aiotao.presence.timeout'])


def events(page: Any) -> list[str]:
    return page.locator('#messages li.event').all_text_contents()  # type: ignore[no-any-return]


def members(page: Any) -> list[str]:
    return page.locator('#members li').all_text_contents()  # type: ignore[no-any-return]


def wait_members(page: Any, names: list[str]) -> None:
    page.wait_for_function(
        'names => JSON.stringify([...document.querySelectorAll("#members li")]'
        '.map(e => e.textContent)) === JSON.stringify(names)',
        arg=names,
        timeout=15000,
    )


def rename(page: Any, name: str) -> None:
    page.fill('#nick-input', name)
    page.click('#nick-form button')


def say(page: Any, text: str) -> None:
    page.fill('#text', text)
    page.press('#text', 'Enter')


@pytest.mark.timeout(120)
def test_presence_is_per_person_across_tabs_and_workers(
    demo_on_two_workers: DemoFactory, browser: Any, shots: Shots
) -> None:
    server = demo_on_two_workers()
    url = server.url('/chat/lobby')
    problems: list[str] = []
    ada = new_page(browser, problems)
    ada_worker = on_worker(ada, url, READY, None)
    rename(ada, 'ada')
    ada.wait_for_selector('#nick:text-is("ada")')
    bob_context = browser.new_context()
    bob = bob_context.new_page()
    on_worker(bob, url, READY, None, avoid=ada_worker)
    rename(bob, 'bob')
    wait_members(ada, ['ada', 'bob'])
    ada.wait_for_selector('#messages li.event:text-matches("is now bob$")')
    before = events(ada)
    # bob opens a second tab (same browser, same person), on ada's worker
    tab = bob_context.new_page()
    on_worker(tab, url, READY, ada_worker)
    assert tab.text_content('#nick') == 'bob'
    wait_members(tab, ['ada', 'bob'])
    tab.close()
    time.sleep(float(PRESENCE['aiotao.presence.linger']) + 1.5)
    # no "bob joined" for the tab, no "bob left" for its closing
    assert events(ada) == before
    assert members(ada) == ['ada', 'bob']
    shots.take(ada, 'two-people')
    bob_context.close()  # bob's last tab: one leave
    ada.wait_for_selector('#messages li.event:text-is("bob left")', timeout=10000)
    wait_members(ada, ['ada'])
    assert problems == []


@pytest.mark.timeout(120)
def test_the_nickname_box_explains_refusals_and_survives_a_reload(
    demo_on_two_workers: DemoFactory, browser: Any, shots: Shots
) -> None:
    server = demo_on_two_workers()
    url = server.url('/chat/lobby')
    problems: list[str] = []
    ada = new_page(browser, problems)
    ada_worker = on_worker(ada, url, READY, None)
    rename(ada, 'Ada')
    ada.wait_for_selector('#nick:text-is("Ada")')
    guest = new_page(browser, problems)
    on_worker(guest, url, READY, None, avoid=ada_worker)
    wait_members(ada, sorted(['Ada', guest.text_content('#nick')], key=str.casefold))
    # markup is refused, not turned into "iAdai"
    rename(guest, '<i>Ada</i>')
    guest.wait_for_selector("#errors:has-text(\"not '<', '>' or '/'\")")
    # ada's name, in another case or with a Cyrillic letter, is hers
    for disguise in ('ADA', '\u0410da'):
        guest.evaluate("document.getElementById('errors').textContent = ''")
        rename(guest, disguise)
        guest.wait_for_selector('#errors:has-text("is taken in this room")')
    assert guest.text_content('#nick').startswith('guest-')
    shots.take(guest, 'refused')
    rename(guest, 'Zoë')
    guest.wait_for_selector('#nick:text-is("Zoë")')
    ada.wait_for_selector('#messages li.event:has-text("is now Zoë")')
    wait_members(ada, ['Ada', 'Zoë'])
    # the member list never showed both names of one person
    assert len(members(ada)) == 2
    # kept in the session: a reload is still Zoë, and no one left or came
    joined_before = sum(line.endswith(' joined') for line in events(ada))
    guest.wait_for_timeout(500)  # the POST that keeps it
    guest.reload()
    guest.wait_for_function(READY, timeout=15000)
    assert guest.text_content('#nick') == 'Zoë'
    assert guest.input_value('#nick-input') == 'Zoë'
    time.sleep(float(PRESENCE['aiotao.presence.linger']) + 1)
    assert 'Zoë left' not in events(ada)
    assert sum(line.endswith(' joined') for line in events(ada)) == joined_before
    assert problems == []


@pytest.mark.timeout(120)
def test_long_text_is_counted_and_a_burst_is_queued_not_lost(
    demo_on_two_workers: DemoFactory, browser: Any, shots: Shots
) -> None:
    server = demo_on_two_workers()
    url = server.url('/chat/lobby')
    problems: list[str] = []
    one = new_page(browser, problems)
    worker = on_worker(one, url, READY, None)
    two = new_page(browser, problems)
    on_worker(two, url, READY, None, avoid=worker)
    # pasting 5,000 characters: nothing is cut, the counter says by how much
    one.fill('#text', 'x' * 5000)
    assert one.text_content('#counter') == '5000 / 500: 4500 too many'
    assert one.is_disabled('#say button')
    shots.take(one, 'too-long')
    one.fill('#text', 'fits')
    assert one.text_content('#counter') == '4 / 500'
    assert not one.is_disabled('#say button')
    # fifteen messages as fast as one can press Enter (the limit: 2/s, 5 at once)
    for n in range(15):
        say(one, f'burst {n}')
    assert one.input_value('#text') == ''
    one.wait_for_selector('#outbox:has-text("wait")')
    shots.take(one, 'queued')
    expected = [f'burst {n}' for n in range(15)]
    two.wait_for_function(
        'n => document.querySelectorAll("#messages li.message").length >= n',
        arg=15,
        timeout=20000,
    )
    assert two.locator('#messages li.message .text').all_text_contents() == expected
    one.wait_for_function('window.aiotaoChat.waiting() === 0')
    assert one.text_content('#outbox') == ''
    assert one.text_content('#errors') == ''
    shots.take(two, 'received')
    assert problems == []


@pytest.mark.timeout(150)
def test_killing_a_worker_makes_no_false_left_nor_join(
    demo_on_two_workers: DemoFactory, browser: Any, shots: Shots
) -> None:
    server = demo_on_two_workers()
    url = server.url('/chat/lobby')
    problems: list[str] = []
    pages = {name: new_page(browser, problems) for name in ('ada', 'bob', 'cy', 'dee')}
    # two people on each worker: ada and bob on the one to be killed
    victim = on_worker(pages['ada'], url, READY, None)
    on_worker(pages['bob'], url, READY, victim)
    on_worker(pages['cy'], url, READY, None, avoid=victim)
    on_worker(pages['dee'], url, READY, None, avoid=victim)
    for name, page in pages.items():
        rename(page, name)
        page.wait_for_selector(f'#nick:text-is("{name}")')
    everyone = ['ada', 'bob', 'cy', 'dee']
    for page in pages.values():
        wait_members(page, everyone)
    workers = {name: int(page.evaluate(READY)) for name, page in pages.items()}
    assert workers['ada'] == workers['bob'] == victim != workers['cy']
    before = {name: events(page) for name, page in pages.items()}

    os.kill(victim, signal.SIGKILL)
    for name in ('ada', 'bob'):
        pages[name].wait_for_selector('#chat[data-state="closed"]', timeout=10000)
    for name in ('ada', 'bob'):
        pages[name].wait_for_selector('#chat[data-state="open"]', timeout=30000)
    # well past the time after which a silent worker's people have left
    time.sleep(TIMEOUT * 2 + 1)
    for name, page in pages.items():
        new_lines = events(page)[len(before[name]) :]
        assert not [
            line for line in new_lines if line.endswith((' left', ' joined'))
        ], (
            name,
            new_lines,
        )
        assert members(page) == everyone, name
    say(pages['ada'], 'still here')
    pages['cy'].wait_for_selector('#messages li.message:has-text("still here")')
    shots.take(pages['cy'], 'after-the-kill')
    # a person who does not come back is announced, once
    pages['dee'].context.close()
    pages['ada'].wait_for_selector(
        '#messages li.event:text-is("dee left")', timeout=10000
    )
    assert events(pages['ada']).count('dee left') == 1
    assert [p for p in problems if 'WebSocket' not in p] == []
