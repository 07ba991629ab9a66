"""Each scaffold makes a project that installs, passes its tests and serves.

As a user would, with aiotao from the release (:mod:`tests.harness.dist`:
the wheel ``make dist`` builds, not this checkout): a fresh virtualenv,
``pip install aiotao-*.whl``, ``pcreate``, ``pip install -e ".[test]"``,
``pytest``, ``gunicorn --paste development.ini``.  Then a real browser
(Debian's chromium, through Playwright) opens the websocket project's home
page.  ``make test`` runs these on every supported Python it finds.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pymongo
import pytest
import websockets

from aiotao.testing.mongodb import DevelopmentMongoDB
from tests.harness.dist import Virtualenv, built_dist
from tests.harness.gunicorn import ServerProcess, free_port, start_server

CHROMIUM = Path('/usr/bin/chromium')
SLOW = pytest.mark.timeout(900)


@dataclass
class GeneratedProject:
    scaffold: str
    root: Path
    env: Virtualenv

    @property
    def bin(self) -> Path:
        return self.env.bin

    def run(self, *argv: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return self.env.run(*argv, cwd=self.root, timeout=timeout)


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
    wheel = built_dist(tmp_path_factory).wheel
    workdir = tmp_path_factory.mktemp(scaffold)
    env = Virtualenv.create(workdir / 'venv')
    env.must(env.pip, 'install', '-q', wheel, cwd=workdir)
    env.must(env.bin / 'pcreate', '-s', scaffold, 'myproject', cwd=workdir)
    generated = GeneratedProject(scaffold, workdir / 'myproject', env)
    must(generated.run(str(env.pip), 'install', '-q', '-e', '.[test]'))
    return generated


@SLOW
def test_aiotao_comes_from_the_wheel(project: GeneratedProject) -> None:
    where = must(
        project.run(
            str(project.bin / 'python'), '-c', 'import aiotao; print(aiotao.__file__)'
        )
    ).stdout.strip()
    assert Path(where).is_relative_to(project.env.root), where
    version = sys.version_info
    assert f'python{version.major}.{version.minor}' in where  # this Python's


@SLOW
def test_the_generated_project_passes_its_own_tests(project: GeneratedProject) -> None:
    result = must(
        project.run(str(project.bin / 'pytest'), '-q', '-p', 'no:cacheprovider')
    )
    assert ' passed' in result.stdout
    assert 'failed' not in result.stdout and 'error' not in result.stdout.lower()


@SLOW
def test_a_warning_from_the_projects_own_code_still_fails_its_tests(
    project: GeneratedProject,
) -> None:
    # third-party warnings are ignored by name (pytest.ini); the project's are errors
    test = project.root / 'myproject' / 'tests' / 'test_own_warning.py'
    test.write_text(
        'import warnings\n\n\n'
        'def test_deprecated_here():\n'
        "    warnings.warn('myproject.old_api is deprecated', DeprecationWarning)\n"
    )
    try:
        result = project.run(
            str(project.bin / 'pytest'), '-q', '-p', 'no:cacheprovider', str(test)
        )
    finally:
        test.unlink()
    assert result.returncode == 1, result.stdout
    assert 'DeprecationWarning: myproject.old_api is deprecated' in result.stdout


@pytest.fixture
def mongodb_uri() -> Iterator[str]:
    server = DevelopmentMongoDB()
    try:
        yield server.start()
    finally:
        server.stop()


def serve(
    project: GeneratedProject,
    *args: str,
    log_path: Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> tuple[ServerProcess, str]:
    """``gunicorn *args`` from the project's virtualenv, on a free port."""
    port = free_port()
    server = start_server(
        [
            str(project.bin / 'gunicorn'),
            *args,
            '--bind',
            f'127.0.0.1:{port}',
            '--no-control-socket',
        ],
        port=port,
        log_path=log_path,
        cwd=cwd or project.root,
        env={**project.env.environ, **(env or {})},
        import_checkout=False,
    )
    return server, f'127.0.0.1:{port}'


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
    server, address = serve(
        project, '--paste', 'development.ini', log_path=tmp_path / 'gunicorn.log'
    )
    try:
        assert 'aiotao' in server.log()
        assert 'not aiotao' not in server.log()  # the worker of gunicorn.conf.py
        yield address
    finally:
        server.stop()


@SLOW
def test_the_generated_project_serves_with_gunicorn(
    project: GeneratedProject, served: str
) -> None:
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
def test_production_takes_the_database_and_the_secret_from_the_environment(
    project: GeneratedProject, mongodb_uri: str, tmp_path: Path
) -> None:
    if project.scaffold != 'aiotao_websocket':
        return  # the starter has no database; parametrized by the fixture
    # production.ini names a MongoDB on 127.0.0.1:27017; the environment
    # gives another server and database, which holds an item to show
    uri = f'{mongodb_uri}from_the_environment'
    with pymongo.MongoClient(uri) as client:
        client.get_default_database().items.insert_one(
            {
                'text': 'stored on the server MONGO_URI names',
                'created': datetime.now(UTC),
            }
        )
    server, address = serve(
        project,
        '--paste',
        'production.ini',
        '--workers',
        '1',
        log_path=tmp_path / 'gunicorn.log',
        env={'MONGO_URI': uri, 'SESSION_SECRET': 'from-the-environment'},
    )
    try:
        with urllib.request.urlopen(f'http://{address}/items', timeout=10) as response:
            assert 'stored on the server MONGO_URI names' in response.read().decode()
    finally:
        server.stop()
    assert 'session.secret' not in (project.root / 'production.ini').read_text()


@SLOW
def test_gunicorn_from_another_directory_says_what_is_wrong(
    project: GeneratedProject, tmp_path: Path
) -> None:
    # from a sibling directory the project's gunicorn.conf.py is not read:
    # gunicorn's sync worker serves
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    server, address = serve(
        project,
        '--paste',
        os.path.relpath(project.root / 'development.ini', elsewhere),  # ../../x/...
        log_path=tmp_path / 'gunicorn.log',
        cwd=elsewhere,
    )
    try:
        with urllib.request.urlopen(
            f'http://{address}/?sleep=0', timeout=10
        ) as response:
            assert response.status == 200  # it serves, but...
        line = server.wait_for_log(r"aiotao: .*not on aiotao's worker.*").group(0)
    finally:
        server.stop()
    assert 'SyncWorker' in line and '-k aiotao.serving.gunicorn.Worker' in line


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
