"""docs/tutorial.rst, followed to the letter: every command run, every code shown checked.

The test reads the tutorial, runs its console commands in order in a fresh
directory (a new virtualenv included), checks that the tree and each
captioned code block match the generated files, then starts the servers
the tutorial starts and does what it tells the reader to do in a browser.

Three substitutions, each because the test must not depend on the machine:
``pip install aiotao`` installs the wheel ``make dist`` builds from this
checkout (the release under test, not PyPI's), and the ports 6543 and 27017 become free ports (in the commands
and in the generated ``development.ini``), so the test runs beside a
developer's own servers.  A command the test does not know how to run
fails it: a new step in the tutorial needs a new check here.
"""

from __future__ import annotations

import re
import shlex
import socket
import subprocess
import textwrap
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.harness.dist import built_dist
from tests.harness.gunicorn import REPO_ROOT, ServerProcess, free_port, start_server

TUTORIAL = REPO_ROOT / 'docs' / 'tutorial.rst'
CHROMIUM = Path('/usr/bin/chromium')
CHROMIUM_ARGS = [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
]
_DIRECTIVE = re.compile(r'^\.\. code-block:: (\w+)\s*$')


@dataclass
class Block:
    language: str
    caption: str | None
    text: str


@dataclass
class Tutorial:
    blocks: list[Block] = field(default_factory=list)

    @classmethod
    def read(cls, path: Path = TUTORIAL) -> Tutorial:
        lines = path.read_text().splitlines()
        tutorial = cls()
        i = 0
        while i < len(lines):
            match = _DIRECTIVE.match(lines[i])
            i += 1
            if match is None:
                continue
            caption = None
            while i < len(lines) and lines[i].strip().startswith(':'):
                option = lines[i].strip()
                if option.startswith(':caption:'):
                    caption = option.removeprefix(':caption:').strip()
                i += 1
            body = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith(' ')):
                body.append(lines[i])
                i += 1
            text = textwrap.dedent('\n'.join(body)).strip('\n') + '\n'
            tutorial.blocks.append(Block(match.group(1), caption, text))
        return tutorial

    @property
    def commands(self) -> list[str]:
        return [
            line.removeprefix('$ ').strip()
            for block in self.blocks
            if block.language == 'console'
            for line in block.text.splitlines()
            if line.startswith('$ ')
        ]


def tree(root: Path, ignore: frozenset[str] = frozenset()) -> str:
    """``root`` drawn as the ``tree`` command draws it (names sorted)."""
    lines = [root.name]

    def walk(directory: Path, prefix: str) -> None:
        entries = sorted(
            (
                p
                for p in directory.iterdir()
                if not p.name.startswith('.') and p.name not in ignore
            ),
            key=lambda p: p.name,
        )
        for n, entry in enumerate(entries):
            last = n == len(entries) - 1
            lines.append(f'{prefix}{"└── " if last else "├── "}{entry.name}')
            if entry.is_dir():
                walk(entry, prefix + ('    ' if last else '│   '))

    walk(root, '')
    return '\n'.join(lines) + '\n'


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise AssertionError(
                f'exited with {process.returncode}:\n{log.read_text()}'
            )
        try:
            socket.create_connection(('127.0.0.1', port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f'port {port} not open in 30 s:\n{log.read_text()}'
                ) from None
            time.sleep(0.1)


def contains_indented(text: str, block: str) -> bool:
    """``block`` is in ``text`` as it is, or indented (a method, say)."""
    return any(textwrap.indent(block, ' ' * n) in text for n in range(0, 13, 4))


@dataclass
class FollowedTutorial:
    """The tutorial's setup done; its servers running."""

    tutorial: Tutorial
    project: Path
    setup_output: str
    http_port: int
    gunicorn: ServerProcess


def _setup_script(
    commands: list[str], http_port: int, mongo_port: int, wheel: Path
) -> str:
    """The commands before the servers start, as one shell script."""
    script = ['set -e']
    for command in commands:
        if command == 'pip install aiotao':
            command = f'pip install -q {shlex.quote(str(wheel))}'
        elif command.startswith('pip install'):
            command = command.replace('pip install', 'pip install -q', 1)
        elif command == 'pytest':
            command = 'pytest -p no:cacheprovider'
        elif command == 'pcreate -s aiotao_websocket aiotutorial':
            # the test's own step: free ports instead of the tutorial's
            ini = 'aiotutorial/development.ini'
            command += (
                f' && sed -i -e "s/6543/{http_port}/" -e "s/27017/{mongo_port}/" {ini}'
            )
        elif command not in (
            'python3 -m venv env',
            '. env/bin/activate',
            'pcreate -l',
            'cd aiotutorial',
        ):
            raise AssertionError(f'the test does not know the command {command!r}')
        script.append(f'echo "+ {command}"')
        script.append(command)
    return '\n'.join(script)


@pytest.fixture(scope='module')
def followed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FollowedTutorial]:
    tutorial = Tutorial.read()
    commands = tutorial.commands
    servers = [c for c in commands if c.endswith('&') or c.startswith('gunicorn')]
    assert servers == [
        'python -m secantus --port 27017 --storage-path var/mongodb &',
        'gunicorn --paste development.ini',
    ], 'the tutorial starts other servers than the test knows'
    assert commands[-len(servers) :] == servers, 'servers start last'
    workdir = tmp_path_factory.mktemp('tutorial')
    http_port, mongo_port = free_port(), free_port()
    wheel = built_dist(tmp_path_factory).wheel
    script = _setup_script(commands[: -len(servers)], http_port, mongo_port, wheel)
    setup = subprocess.run(
        ['bash', '-c', script],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=900,
        env={'PATH': '/usr/local/bin:/usr/bin:/bin', 'HOME': str(Path.home())},
    )
    assert setup.returncode == 0, f'{setup.stdout}\n{setup.stderr}'
    project = workdir / 'aiotutorial'
    bin = workdir / 'env' / 'bin'
    mongo_log = workdir / 'mongodb.log'
    mongo_argv = shlex.split(
        servers[0].removesuffix('&').replace('27017', str(mongo_port))
    )
    with mongo_log.open('wb') as log:
        mongo = subprocess.Popen(
            [str(bin / 'python'), *mongo_argv[1:]],
            cwd=project,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_port(mongo_port, mongo, mongo_log)
        gunicorn = start_server(
            [
                str(bin / 'gunicorn'),
                *shlex.split(servers[1])[1:],
                '--no-control-socket',
            ],
            port=http_port,
            log_path=workdir / 'gunicorn.log',
            cwd=project,
            env={'PATH': f'{bin}:/usr/bin:/bin'},
            import_checkout=False,  # aiotao from the wheel the tutorial installed
        )
        try:
            yield FollowedTutorial(tutorial, project, setup.stdout, http_port, gunicorn)
        finally:
            gunicorn.stop()
    finally:
        mongo.terminate()
        mongo.wait(timeout=30)


SLOW = pytest.mark.timeout(900)


@SLOW
def test_the_commands_work_and_the_project_passes_its_tests(
    followed: FollowedTutorial,
) -> None:
    output = followed.setup_output
    listing = output.split('+ pcreate -l', 1)[1].split('+ pcreate -s', 1)[0]
    assert 'aiotao_websocket' in listing and 'aiotao_starter' in listing
    tests_run = output.split('+ pytest', 1)[1]
    assert re.search(r'\d+ passed', tests_run) and 'failed' not in tests_run


@SLOW
def test_the_tree_shown_is_the_tree_generated(followed: FollowedTutorial) -> None:
    (shown,) = [
        b for b in followed.tutorial.blocks if b.caption == 'the generated tree'
    ]
    # what installing and running the project adds was not generated
    made_by_running = frozenset({'var', 'aiotutorial.egg-info', '__pycache__'})
    assert shown.text == tree(followed.project, ignore=made_by_running)


@SLOW
def test_every_captioned_code_block_is_in_the_generated_file(
    followed: FollowedTutorial,
) -> None:
    blocks = [b for b in followed.tutorial.blocks if b.language in ('python', 'ini')]
    checked = 0
    for block in blocks:
        if block.caption is None:
            continue  # shown for comparison (aiopyramid's code), not generated
        path = followed.project / block.caption
        assert path.is_file(), f'the tutorial shows {block.caption}, not generated'
        text = path.read_text()
        if block.caption == 'development.ini':
            text = text.replace(str(followed.http_port), '6543')
        assert contains_indented(text, block.text), (
            f'{block.caption} does not contain what the tutorial shows:\n{block.text}'
        )
        checked += 1
    assert checked >= 6


@SLOW
def test_gunicorn_serves_the_project_on_aiotaos_worker(
    followed: FollowedTutorial,
) -> None:
    assert 'aiotao.serving.gunicorn.Worker' in followed.gunicorn.log() or (
        'AsyncGunicornWorker' in followed.gunicorn.log()
    )


@SLOW
def test_a_ten_second_page_does_not_hold_up_another(followed: FollowedTutorial) -> None:
    base = f'http://127.0.0.1:{followed.http_port}/'
    slow_done: list[float] = []

    def load_slowly() -> None:
        started = time.monotonic()
        with urllib.request.urlopen(base + '?sleep=10', timeout=30) as response:
            assert response.status == 200
        slow_done.append(time.monotonic() - started)

    slow = threading.Thread(target=load_slowly)
    slow.start()
    time.sleep(0.5)  # the slow request is in flight
    started = time.monotonic()
    with urllib.request.urlopen(base, timeout=10) as response:
        assert response.status == 200
    quick = time.monotonic() - started
    assert not slow_done, 'the slow page should still be loading'
    slow.join(timeout=30)
    assert quick < 2.0, f'the first browser waited {quick:.1f} s'
    assert slow_done and 9.5 <= slow_done[0] < 15, slow_done


@SLOW
def test_the_chat_and_game_pages_the_tutorial_opens_are_served(
    followed: FollowedTutorial,
) -> None:
    base = f'http://127.0.0.1:{followed.http_port}'
    for path, script in (('/chat', 'chat.js'), ('/game', 'arena.js')):
        assert f'http://127.0.0.1:6543{path}' in TUTORIAL.read_text()
        with urllib.request.urlopen(base + path, timeout=10) as response:
            assert response.status == 200
            assert script in response.read().decode()


@SLOW
def test_the_browser_shows_the_echo_test(
    followed: FollowedTutorial, tmp_path: Path
) -> None:
    if not CHROMIUM.exists():
        pytest.fail('Debian chromium is needed: apt-get install chromium')
    from playwright.sync_api import sync_playwright

    expected = re.search(r'shows::\n\n((?:    .*\n)+)', TUTORIAL.read_text())
    assert expected is not None, 'the tutorial no longer says what the page shows'
    lines = [line.strip() for line in expected.group(1).splitlines()]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            page.goto(f'http://127.0.0.1:{followed.http_port}/')
            page.wait_for_selector('#output p:has-text("DISCONNECTED")', timeout=15000)
            seen = page.locator('#output p').all_text_contents()
            page.screenshot(path=str(tmp_path / 'tutorial-home.png'))
        finally:
            browser.close()
    assert seen == lines
    assert (tmp_path / 'tutorial-home.png').stat().st_size > 1000
