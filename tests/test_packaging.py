"""The release ``make dist`` builds: what the sdist and the wheel hold, and say.

The wheel is built from the sdist (as ``python -m build`` does), so a file
the sdist forgets is missing from the wheel too.  Installing the wheel and
using it (``pcreate``, a generated project's tests, ``gunicorn --paste``)
is :mod:`tests.scaffolds.test_generated_projects`; here, the wheel without
extras serves an application of async and websocket views.
"""

from __future__ import annotations

import asyncio
import email
import re
import subprocess
import tarfile
import tomllib
import urllib.request
import zipfile
from email.message import Message
from pathlib import Path

import pytest
import websockets

from tests.harness.dist import Dist, Virtualenv, built_dist
from tests.harness.gunicorn import REPO_ROOT, free_port, start_server

PYPROJECT = tomllib.loads((REPO_ROOT / 'pyproject.toml').read_text())


@pytest.fixture(scope='module')
def dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    return built_dist(tmp_path_factory)


def tracked(under: str) -> set[str]:
    """The files git tracks under ``under``."""
    listed = subprocess.run(
        ['git', 'ls-files', under],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    return set(listed.split())


def metadata(dist: Dist) -> Message:
    with zipfile.ZipFile(dist.wheel) as wheel:
        (name,) = [n for n in wheel.namelist() if n.endswith('.dist-info/METADATA')]
        return email.message_from_bytes(wheel.read(name))


@pytest.mark.timeout(600)
def test_the_wheel_holds_every_file_of_the_package(dist: Dist) -> None:
    with zipfile.ZipFile(dist.wheel) as wheel:
        names = set(wheel.namelist())
    missing = sorted(tracked('aiotao') - names)
    assert not missing, f'not in {dist.wheel.name}: {missing}'
    # the scaffolds' dotfiles and the static files the pages load
    assert 'aiotao/scaffolds/starter/.gitignore' in names
    assert 'aiotao/py.typed' in names


@pytest.mark.timeout(600)
def test_the_wheel_ships_no_app(dist: Dist) -> None:
    """The library holds the library: the demo app and its arena are not in it."""
    with zipfile.ZipFile(dist.wheel) as wheel:
        names = set(wheel.namelist())
        (entry_points,) = [n for n in names if n.endswith('entry_points.txt')]
        declared = wheel.read(entry_points).decode()
    assert not [n for n in names if 'demo' in n.split('/')[0:2]], 'a demo in the wheel'
    assert not [n for n in names if n.startswith('aiotao_demo')]
    # the arena shooter is the demo's, and a file the websocket scaffold
    # copies into a new project: nowhere in the library itself
    arena = sorted(
        n
        for n in names
        if 'arena' in n and not n.startswith('aiotao/scaffolds/websocket/+package+/')
    )
    assert not arena, f'the arena in the wheel: {arena}'
    assert 'paste.app_factory' not in declared  # egg:aiotao is no application
    # Jinja2 is an extra (aiotao[jinja2]), not a dependency
    requires = metadata(dist).get_all('Requires-Dist') or []
    # (Jinja2 alone is pcreate's: it renders the scaffolds)
    jinja = [r for r in requires if 'pyramid_jinja2' in r.lower()]
    assert jinja and all('extra == "jinja2"' in r for r in jinja), jinja


#: An application of aiotao alone: an async view and a websocket view.
APP = """\
import asyncio

from pyramid.config import Configurator

from aiotao.mappers import WebsocketMapper


async def hello(request):
    await asyncio.sleep(0)
    return {'hello': 'async'}


async def echo(ws):
    async for message in ws:
        await ws.send(message)


config = Configurator()
config.include('aiotao')
config.include('aiotao.websocket')
config.add_route('hello', '/')
config.add_view(hello, route_name='hello', renderer='json')
config.add_route('echo', '/echo')
config.add_view(echo, route_name='echo', mapper=WebsocketMapper)
app = config.make_wsgi_app()
"""


@pytest.mark.timeout(900)
def test_the_wheel_without_extras_serves_async_and_websocket_views(
    dist: Dist, tmp_path: Path
) -> None:
    env = Virtualenv.create(tmp_path / 'venv')
    env.must(env.pip, 'install', '-q', dist.wheel, cwd=tmp_path)
    python = env.bin / 'python'
    absent = env.run(python, '-c', 'import pyramid_jinja2', cwd=tmp_path)
    assert absent.returncode != 0, 'pyramid_jinja2 came without the jinja2 extra'
    (tmp_path / 'app.py').write_text(APP)
    port = free_port()
    server = start_server(
        [
            str(env.bin / 'gunicorn'),
            '--worker-class',
            'aiotao.serving.gunicorn.Worker',
            '--bind',
            f'127.0.0.1:{port}',
            '--no-control-socket',
            'app:app',
        ],
        port=port,
        log_path=tmp_path / 'gunicorn.log',
        cwd=tmp_path,
        env=env.environ,
        import_checkout=False,
    )
    try:
        with urllib.request.urlopen(server.url('/'), timeout=10) as response:
            assert response.read() == b'{"hello": "async"}'

        async def echo() -> str | bytes:
            async with websockets.connect(f'ws://127.0.0.1:{port}/echo') as ws:
                await ws.send('over the wheel alone')
                return await ws.recv()

        assert asyncio.run(echo()) == 'over the wheel alone'
    finally:
        server.stop()
    assert 'pyramid_jinja2' not in server.log()


@pytest.mark.timeout(600)
def test_the_sdist_holds_the_package_and_its_documents(dist: Dist) -> None:
    with tarfile.open(dist.sdist) as sdist:
        names = {name.split('/', 1)[1] for name in sdist.getnames() if '/' in name}
    documents = {'README.rst', 'CHANGES.rst', 'LICENSE', 'pyproject.toml'}
    wanted = tracked('aiotao') | tracked('docs') | documents
    missing = sorted(wanted - names)
    assert not missing, f'not in {dist.sdist.name}: {missing}'
    # the demo app is a distribution of its own, not aiotao's source
    assert not [n for n in names if n.startswith(('demo/', 'aiotao/demo/'))]


@pytest.mark.timeout(600)
def test_the_metadata_says_what_is_supported(dist: Dist) -> None:
    meta = metadata(dist)
    assert meta['Name'] == 'aiotao'
    assert meta['Version'] == PYPROJECT['project']['version']
    assert meta['Requires-Python'] == '>=3.11'
    pythons = [
        c.rsplit(' :: ', 1)[1]
        for c in meta.get_all('Classifier') or []
        if re.fullmatch(r'Programming Language :: Python :: 3\.\d+', c)
    ]
    assert pythons == ['3.11', '3.12', '3.13']
    requires = meta.get_all('Requires-Dist') or []
    assert 'gunicorn>=24' in requires  # -k asgi and asgi_loop, as the docs use
    # the README is the long description PyPI shows
    assert 'Async-native Pyramid' in (meta.get_payload() or '')


@pytest.mark.timeout(600)
def test_the_console_scripts_and_plugins_are_declared(dist: Dist) -> None:
    with zipfile.ZipFile(dist.wheel) as wheel:
        (name,) = [n for n in wheel.namelist() if n.endswith('entry_points.txt')]
        entry_points = wheel.read(name).decode()
    for line in (
        'pcreate = aiotao.scripts.pcreate:main',
        'aiotao = aiotao.scripts.aiotao:main',
        'aiotao = aiotao.testing.plugin',  # pytest11
        'aiotao_websocket = aiotao.scaffolds:WebsocketScaffold',
    ):
        assert line in entry_points


def test_the_changelog_opens_with_this_version() -> None:
    """CHANGES.rst's first section is the release pyproject.toml builds."""
    version = PYPROJECT['project']['version']
    release = re.sub(r'\.dev\d+$', '', version)
    heading = re.search(
        r'^(\d+\.\d+\.\d+) \((unreleased|\d{4}-\d\d-\d\d)\)\n-+$',
        (REPO_ROOT / 'CHANGES.rst').read_text(),
        re.MULTILINE,
    )
    assert heading is not None, 'CHANGES.rst has no "X.Y.Z (date)" section'
    assert heading.group(1) == release
    # a release (no .devN) has its date; a development version has none yet
    assert (heading.group(2) == 'unreleased') == (version != release)
