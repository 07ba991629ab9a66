"""The demo's arena in chromium, on two gunicorn workers sharing Redis.

Pages play as people do (keys, mouse) and the tests read what each page
shows (``window.aiotaoArena``) and take screenshots: the heads-up display
and the scoreboard on the canvas, names unique in a room and made up when
none is given, a newcomer shielded after spawning, "killed by" with a
countdown and the kill feed, a closed tab's ship shown away and then
gone, the leave button and the share link; and a room whose worker is
killed, which resumes on the other worker from its last checkpoint with
every page (on both workers) back in its seat, told why, playing on.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest

from tests.demo.browser import (
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

READY = "document.getElementById('arena').dataset.worker || null"
WINDOW = {'viewport': {'width': 1280, 'height': 900}}


def arena(page: Any, expression: str) -> Any:
    return page.evaluate(f'window.aiotaoArena.{expression}')


def play(page: Any, button: str, name: str | None = None) -> str:
    """Click a join button (with ``name``); the room it was seated in."""
    if name is not None:
        page.fill('[data-role=name]', name)
    page.click(f'button[data-join="{button}"]')
    page.wait_for_function('window.aiotaoArena.seat() !== null', timeout=15000)
    page.wait_for_function(
        'Object.keys(window.aiotaoArena.players()).length > 0', timeout=10000
    )
    return str(arena(page, 'room()'))


def ship(page: Any, seat: str) -> dict[str, Any] | None:
    return page.evaluate('(id) => window.aiotaoArena.players()[id] || null', seat)  # type: ignore[no-any-return]


def hunt(hunter: Any, target: str, until: str, timeout: float = 30) -> None:
    """Chase the ship ``target`` and fire at it until ``until`` (JS) is true."""
    box = hunter.locator('canvas').bounding_box()
    hunter.mouse.move(box['x'] + 10, box['y'] + 10)
    hunter.mouse.down()
    held: set[str] = set()
    deadline = time.monotonic() + timeout
    try:
        while not hunter.evaluate(until):
            assert time.monotonic() < deadline, 'the hunt went on and on'
            me = ship(hunter, arena(hunter, 'seat()'))
            prey = ship(hunter, target)
            if me is None or prey is None:
                time.sleep(0.1)
                continue
            scale = box['width'] / 960
            hunter.mouse.move(
                box['x'] + prey['x'] * scale, box['y'] + prey['y'] * scale
            )
            dx, dy = prey['x'] - me['x'], prey['y'] - me['y']
            wanted = set()
            if abs(dx) > 220:
                wanted.add('d' if dx > 0 else 'a')
            if abs(dy) > 160:
                wanted.add('s' if dy > 0 else 'w')
            for key in held - wanted:
                hunter.keyboard.up(key)
            for key in wanted - held:
                hunter.keyboard.down(key)
            held = wanted
            time.sleep(0.1)
    finally:
        for key in held:
            hunter.keyboard.up(key)
        hunter.mouse.up()


@pytest.mark.timeout(120)
def test_quick_play_shows_the_game_on_the_canvas_and_shields_newcomers(
    demo_on_two_workers: DemoFactory, browser: Any, shots: Shots
) -> None:
    server = demo_on_two_workers()
    url = server.url('/game')
    problems: list[str] = []
    ana = new_page(browser, problems, **WINDOW)
    first_worker = on_worker(ana, url, READY, None)
    made_up = ana.input_value('[data-role=name]')
    assert made_up not in ('', 'player') and ' ' in made_up  # "swift otter"
    room = play(ana, 'quick', 'ana')
    # quick play with no room open: a room with bots, not an empty arena
    ana.wait_for_function(
        'Object.values(window.aiotaoArena.players()).filter(p => p.bot).length === 3'
    )
    # a newcomer is shielded on arrival and alive through it
    me = arena(ana, 'seat()')
    assert ship(ana, me)['shield'] == 1  # type: ignore[index]
    for _ in range(8):
        assert ship(ana, me)['hp'] > 0  # type: ignore[index]
        time.sleep(0.25)

    # another person, on the other worker, with the same name
    bob = new_page(browser, problems, **WINDOW)
    on_worker(bob, url, READY, None, avoid=first_worker)
    assert play(bob, 'quick', 'ana') == room  # the room with people in it
    assert arena(bob, 'name()') == 'ana 2'
    assert bob.text_content('[data-role=status]').startswith('ana 2 in room')
    # a person took a bot's seat: quick play fills rooms with people
    ana.wait_for_function(
        'Object.values(window.aiotaoArena.players()).filter(p => p.bot).length === 2'
    )
    # the share link joins this room; the status names the player, not a seat
    link = bob.get_attribute('[data-role=share-link]', 'href')
    assert link is not None and link.endswith(f'/game?room={room}')
    assert 'p2' not in bob.text_content('[data-role=status]')
    # the whole canvas (and its scoreboard) fits a 900-pixel-high window
    box = ana.locator('canvas').bounding_box()
    assert box['y'] + box['height'] <= 900
    time.sleep(1)
    shots.take(ana, 'hud')
    cy = new_page(browser, problems, **WINDOW)
    cy.goto(link)
    cy.wait_for_function('window.aiotaoArena.room() !== null', timeout=15000)
    assert arena(cy, 'room()') == room
    # leaving
    cy.click('[data-role=leave]')
    cy.wait_for_selector('[data-role=status]:has-text("you left the room")')
    assert arena(cy, 'room()') is None
    assert problems == []  # not even the favicon is missing


@pytest.mark.timeout(120)
def test_a_death_is_shown_with_its_killer_and_countdown(
    demo_on_two_workers: DemoFactory, browser: Any, shots: Shots
) -> None:
    server = demo_on_two_workers()
    url = server.url('/game')
    problems: list[str] = []
    ana, bob = (
        new_page(browser, problems, **WINDOW),
        new_page(browser, problems, **WINDOW),
    )
    for page in (ana, bob):
        on_worker(page, url, READY, None)
    play(ana, 'private', 'ana')
    code = ana.input_value('[data-role=code]')
    bob.fill('[data-role=code]', code)
    room = play(bob, 'code', 'bob')
    assert arena(ana, 'room()') == room
    target = arena(ana, 'seat()')
    hunt(bob, target, f'(window.aiotaoArena.state().players[{target!r}] || {{}}).down')
    ana.wait_for_function(
        '(id) => (window.aiotaoArena.state().players[id] || {}).down', arg=target
    )
    down = arena(ana, f'state().players[{target!r}].down')
    assert down[0] == 'bob'
    feed = arena(ana, 'state().feed')
    assert [kill[1:] for kill in feed][-1] == ['bob', 'ana']
    ana.wait_for_timeout(300)
    shots.take(ana, 'killed')
    # back after the countdown, shielded
    ana.wait_for_function(
        '(id) => { const p = window.aiotaoArena.state().players[id];'
        ' return p && !p.down && p.shield; }',
        arg=target,
        timeout=5000,
    )
    assert arena(bob, f'state().players[{arena(bob, "seat()")!r}].score') == 1
    assert problems == []


@pytest.mark.timeout(120)
def test_a_closed_tab_is_shown_away_then_gone(
    demo_on_two_workers: DemoFactory, browser: Any, shots: Shots
) -> None:
    server = demo_on_two_workers(**{'aiotao.game.grace_period': '4'})
    url = server.url('/game')
    problems: list[str] = []
    ana, bob = (
        new_page(browser, problems, **WINDOW),
        new_page(browser, problems, **WINDOW),
    )
    for page in (ana, bob):
        on_worker(page, url, READY, None)
    play(ana, 'private', 'ana')
    bob.fill('[data-role=code]', ana.input_value('[data-role=code]'))
    play(bob, 'code', 'bob')
    gone = arena(bob, 'seat()')
    bob.close()
    ana.wait_for_function(
        '(id) => (window.aiotaoArena.players()[id] || {}).away === 1', arg=gone
    )
    # not a target meanwhile: ana's bullets pass through it
    hp = ship(ana, gone)['hp']  # type: ignore[index]
    ana.wait_for_timeout(500)
    shots.take(ana, 'away')
    assert ship(ana, gone)['hp'] == hp  # type: ignore[index]
    # removed once the grace period is over
    ana.wait_for_function(
        '(id) => !window.aiotaoArena.players()[id]', arg=gone, timeout=10000
    )
    assert [p for p in problems if 'WebSocket' not in p] == []


@pytest.mark.timeout(150)
def test_killing_a_rooms_worker_resumes_the_room_and_every_page_plays_on(
    demo_on_two_workers: DemoFactory, browser: Any, shots: Shots
) -> None:
    server = demo_on_two_workers(
        **{'aiotao.game.checkpoint_interval': '1', 'aiotao.game.lease': '3'}
    )
    url = server.url('/game')
    problems: list[str] = []
    pages = {
        name: new_page(browser, problems, **WINDOW) for name in ('ana', 'bob', 'cy')
    }
    owner = on_worker(pages['ana'], url, READY, None)
    on_worker(pages['cy'], url, READY, owner)
    on_worker(pages['bob'], url, READY, None, avoid=owner)
    room = play(pages['ana'], 'create', 'ana')  # opened on the worker to kill
    for name in ('bob', 'cy'):
        assert play(pages[name], 'quick', name) == room
    for page in pages.values():
        page.wait_for_function(
            'Object.values(window.aiotaoArena.players()).filter(p => !p.bot).length === 3'
        )
    seats = {name: arena(page, 'seat()') for name, page in pages.items()}
    time.sleep(2.5)  # a checkpoint with everyone in it
    scores = {
        name: arena(pages['bob'], f'state().players[{seat!r}].score')
        for name, seat in seats.items()
    }

    os.kill(owner, signal.SIGKILL)
    killed = time.monotonic()
    # bob's worker was not killed: his page is re-attached; ana's and cy's
    # reconnect with their tokens; all in the same room and seats
    for name, page in pages.items():
        page.wait_for_function(
            '([room, seat]) => window.aiotaoArena.room() === room'
            ' && window.aiotaoArena.seat() === seat'
            ' && document.getElementById("arena").dataset.resumed === room',
            arg=[room, seats[name]],
            timeout=30000,
        )
    took = time.monotonic() - killed
    print(f'failover in chromium: every page back in {took:.1f} s')
    bob = pages['bob']
    assert arena(bob, 'banner()').startswith(
        f'the server running room {room} stopped: the game resumed where it was'
    )
    assert bob.evaluate('document.getElementById("arena").dataset.moved') is None
    shots.take(bob, 'resumed')
    for page in pages.values():
        page.wait_for_function(
            'Object.values(window.aiotaoArena.players())'
            '.filter(p => !p.bot && !p.away).length === 3',
            timeout=15000,
        )
    assert {
        name: arena(bob, f'state().players[{seat!r}].score')
        for name, seat in seats.items()
    } == scores
    # and it plays on: bob steers, every page sees his ship go
    start = ship(pages['ana'], seats['bob'])
    assert start is not None
    bob.keyboard.down('d' if start['x'] < 480 else 'a')
    try:
        pages['ana'].wait_for_function(
            '([seat, x]) => { const p = window.aiotaoArena.players()[seat];'
            ' return p && Math.abs(p.x - x) > 60; }',
            arg=[seats['bob'], start['x']],
            timeout=10000,
        )
    finally:
        bob.keyboard.up('d')
        bob.keyboard.up('a')
    names = sorted(p['name'] for p in arena(bob, 'players()').values() if not p['bot'])
    assert names == ['ana', 'bob', 'cy']
    assert [p for p in problems if 'WebSocket' not in p] == []
