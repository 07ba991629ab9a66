"""Each scaffold makes a project that installs, passes its tests and serves.

The projects are generated into a temporary directory and installed into a
fresh virtualenv of their own (aiotao from this checkout), as a user would:
``pcreate``, ``pip install -e ".[test]"``, ``pytest``, ``gunicorn --paste
development.ini``.  Then a real browser (Debian's chromium, through
Playwright) opens the websocket project's home page.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import venv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import websockets

from aiotao.testing.mongodb import DevelopmentMongoDB
from tests.harness.gunicorn import REPO_ROOT, free_port, start_server

PCREATE = Path(sys.executable).parent / 'pcreate'
CHROMIUM = Path('/usr/bin/chromium')
SLOW = pytest.mark.timeout(900)


@dataclass
class GeneratedProject:
    scaffold: str
    root: Path
    bin: Path

    def run(self, *argv: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ('PYTHONPATH', 'VIRTUAL_ENV')
        }
        env['PATH'] = f'{self.bin}{os.pathsep}{env.get("PATH", "")}'
        return subprocess.run(
            list(argv),
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def must(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (
        f'{result.args} failed:\n{result.stdout}\n{result.stderr}'
    )
    return result


@pytest.fixture(scope='module', params=['aiotao_starter', 'aiotao_websocket'])
def project(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> GeneratedProject:
    scaffold: str = request.param
    workdir = tmp_path_factory.mktemp(scaffold)
    must(
        subprocess.run(
            [str(PCREATE), '-s', scaffold, 'myproject'],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=60,
        )
    )
    environment = workdir / 'venv'
    venv.create(environment, with_pip=True)
    generated = GeneratedProject(scaffold, workdir / 'myproject', environment / 'bin')
    pip = str(generated.bin / 'pip')
    must(generated.run(pip, 'install', '-q', '-e', str(REPO_ROOT)))
    must(generated.run(pip, 'install', '-q', '-e', '.[test]'))
    return generated


@SLOW
def test_the_generated_project_passes_its_own_tests(project: GeneratedProject) -> None:
    result = must(
        project.run(str(project.bin / 'pytest'), '-q', '-p', 'no:cacheprovider')
    )
    assert ' passed' in result.stdout
    assert 'failed' not in result.stdout and 'error' not in result.stdout.lower()


@pytest.fixture
def mongodb_uri() -> Iterator[str]:
    server = DevelopmentMongoDB()
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def served(
    project: GeneratedProject, mongodb_uri: str, tmp_path: Path
) -> Iterator[str]:
    """``gunicorn --paste development.ini`` in the project, on a free port."""
    ini = project.root / 'development.ini'
    text = ini.read_text()
    # the user's own step: point the ini at their MongoDB (the project is
    # shared by the module's tests: a previous test's server is replaced too)
    text = re.sub(r'mongodb://127\.0\.0\.1:\d+/', mongodb_uri, text)
    ini.write_text(text)
    port = free_port()
    server = start_server(
        [
            str(project.bin / 'gunicorn'),
            '--paste',
            'development.ini',
            '--bind',
            f'127.0.0.1:{port}',
            '--no-control-socket',
        ],
        port=port,
        log_path=tmp_path / 'gunicorn.log',
        cwd=project.root,
        env={'PATH': f'{project.bin}{os.pathsep}{os.environ.get("PATH", "")}'},
    )
    try:
        assert 'aiotao' in server.log()
        yield f'127.0.0.1:{port}'
    finally:
        server.stop()


@SLOW
def test_the_generated_project_serves_with_gunicorn(
    project: GeneratedProject, served: str
) -> None:
    import urllib.request

    with urllib.request.urlopen(f'http://{served}/?sleep=0', timeout=10) as response:
        assert response.status == 200
        assert 'myproject' in response.read().decode()
    if project.scaffold == 'aiotao_websocket':

        async def echo() -> str | bytes:
            async with websockets.connect(f'ws://{served}/echo') as ws:
                await ws.send('hello over a real socket')
                return await ws.recv()

        assert asyncio.run(echo()) == 'hello over a real socket'
        with urllib.request.urlopen(f'http://{served}/items', timeout=10) as response:
            assert response.status == 200  # request.db reached the database
        with urllib.request.urlopen(
            f'http://{served}/chat/lobby', timeout=10
        ) as response:
            assert 'data-socket-url="/chat/lobby/socket"' in response.read().decode()
        with urllib.request.urlopen(f'http://{served}/game', timeout=10) as response:
            assert 'arena.js' in response.read().decode()  # the arena shooter

        async def game_hello() -> str | bytes:
            async with websockets.connect(f'ws://{served}/game/ws') as ws:
                return await ws.recv()

        assert '"hello"' in str(asyncio.run(game_hello()))


@SLOW
def test_the_echo_page_in_chromium(
    project: GeneratedProject, served: str, tmp_path: Path
) -> None:
    if project.scaffold != 'aiotao_websocket':
        return  # the starter has no websocket page; parametrized by the fixture
    if not CHROMIUM.exists():
        pytest.fail('Debian chromium is needed: apt-get install chromium')
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                '--no-sandbox',
                '--disable-gpu',
                '--disable-background-networking',
                '--disable-component-update',
                '--disable-sync',
                '--no-first-run',
            ],
        )
        try:
            page = browser.new_page()
            page.goto(f'http://{served}/?sleep=0')
            page.wait_for_selector('#output p:has-text("DISCONNECTED")', timeout=15000)
            lines = page.locator('#output p').all_text_contents()
            page.screenshot(path=str(tmp_path / 'echo-page.png'))
            # the chat page: a message goes through the server and comes back
            page.goto(f'http://{served}/chat/lobby')
            page.wait_for_selector('#chat[data-state="open"]', timeout=15000)
            page.fill('#text', '<b>hello</b>')
            page.press('#text', 'Enter')
            said = page.wait_for_selector('#messages li.message .text', timeout=15000)
            assert said.text_content() == '<b>hello</b>'  # shown as text
        finally:
            browser.close()
    assert lines == [
        'CONNECTED',
        'SENT: aiotao echo test.',
        'RESPONSE: aiotao echo test.',
        'DISCONNECTED',
    ]
    assert (tmp_path / 'echo-page.png').stat().st_size > 1000
