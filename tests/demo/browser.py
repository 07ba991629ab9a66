"""The demo on two gunicorn workers sharing Redis, and chromium pages on it.

Fixtures (import them into the test module)::

    from tests.demo.browser import browser, demo_on_two_workers, shots

* ``demo_on_two_workers``: the demo app (MongoDB, sessions, chat, arena)
  served by ``gunicorn -w 2`` with aiotao's worker, ``aiotao.broadcast``
  on a Redis of the test's own, short presence timings;
* ``browser``: Debian's chromium, headless, driven by Playwright;
* ``shots``: where a test saves its screenshots (the test's temporary
  directory; also ``$AIOTAO_SCREENSHOTS`` when set, to look at them).

Pages land on whichever worker accepts their websocket: :func:`on_worker`
reloads a page until its socket is served by the worker wanted.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness.gunicorn import ServerFactory, ServerProcess
from tests.harness.redis import RedisServer

CHROMIUM = Path('/usr/bin/chromium')
CHROMIUM_ARGS = [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
]
#: Presence: a killed worker's people have left 5 s after its last word (a
#: loaded machine's pages may take a few seconds to reconnect).
PRESENCE = {
    'aiotao.presence.heartbeat': '0.5',
    'aiotao.presence.timeout': '5',
    'aiotao.presence.linger': '1',
}


def write_ini(path: Path, mongo_uri: str, redis_url: str, **more: str) -> Path:
    settings = {
        'mongo.uri': mongo_uri,
        'mongo.option.serverSelectionTimeoutMS': '3000',
        'session.secret': 'demo-pages-test-secret',
        'aiotao.broadcast': redis_url,
        'aiotao.broadcast.timeout': '1',
        'aiotao.broadcast.retry_max': '0.5',
        'aiotao.game.owner_timeout': '1.5',
        **PRESENCE,
        **more,
    }
    lines = ['[app:main]', 'use = egg:aiotao_demo']
    lines += [f'{key} = {value}' for key, value in settings.items()]
    path.write_text('\n'.join(lines) + '\n')
    return path


DemoFactory = Callable[..., ServerProcess]


@pytest.fixture
def demo_on_two_workers(
    gunicorn: ServerFactory,
    tmp_path: Path,
    mongo_uri: str,
    redis_server: RedisServer,
) -> DemoFactory:
    """``demo_on_two_workers(**settings)``: the served demo, both workers booted."""

    def start(**settings: str) -> ServerProcess:
        ini = write_ini(tmp_path / 'demo.ini', mongo_uri, redis_server.url, **settings)
        server = gunicorn(
            ['--paste', str(ini), '-k', 'aiotao.serving.gunicorn.Worker', '-w', '2'],
            ready_path='/hello',
        )
        deadline = time.monotonic() + 30
        while len(server.worker_pids()) < 2:
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.1)
        # each worker serves (not only booted): the log says so
        server.wait_for_log(r'(?s)serving.*serving', 30)
        return server

    return start


@pytest.fixture
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(
            'Debian chromium is needed: apt-get install chromium', pytrace=False
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


class Shots:
    """Screenshots of one test: in its directory, and in ``$AIOTAO_SCREENSHOTS``."""

    def __init__(self, directory: Path, name: str) -> None:
        self.directory = directory
        self.name = name
        self.copy_to = os.environ.get('AIOTAO_SCREENSHOTS')

    def take(self, page: Any, label: str, **options: Any) -> Path:
        path = self.directory / f'{self.name}-{label}.png'
        page.screenshot(path=str(path), **options)
        assert path.stat().st_size > 3000, f'{path} is nearly empty'
        if self.copy_to:
            Path(self.copy_to).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(self.copy_to) / path.name)
        return path


@pytest.fixture
def shots(tmp_path: Path, request: pytest.FixtureRequest) -> Shots:
    return Shots(tmp_path, request.node.name.removeprefix('test_')[:40])


def new_page(browser: Any, problems: list[str], **context: Any) -> Any:
    """A page in a browser context of its own (its own cookies: another person).

    Every HTTP error response and every script error lands in ``problems``.
    """
    page = browser.new_context(**context).new_page()
    watch(page, problems)
    return page


def watch(page: Any, problems: list[str]) -> None:
    page.on(
        'response',
        lambda response: (
            problems.append(f'{response.status} {response.url}')
            if response.status >= 400
            else None
        ),
    )
    page.on('pageerror', lambda error: problems.append(f'script error: {error}'))
    page.on(
        'dialog', lambda dialog: (problems.append(dialog.message), dialog.dismiss())
    )


def on_worker(
    page: Any, url: str, ready: str, worker: int | None, avoid: int | None = None
) -> int:
    """Open ``url`` until its websocket is served by ``worker`` (or not by ``avoid``).

    ``ready`` is a JavaScript expression giving the serving worker's pid
    once connected (``null`` before).  Returns that pid.
    """
    for _attempt in range(60):
        page.goto(url)
        page.wait_for_function(ready, timeout=15000)
        serving = int(page.evaluate(ready))
        if (worker is None or serving == worker) and serving != avoid:
            return serving
    raise AssertionError(
        f'60 loads of {url} never reached worker {worker} (avoiding {avoid})'
    )
