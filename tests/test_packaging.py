"""The release ``make dist`` builds: what the sdist and the wheel hold, and say.

The wheel is built from the sdist (as ``python -m build`` does), so a file
the sdist forgets is missing from the wheel too.  Installing the wheel and
using it (``pcreate``, a generated project's tests, ``gunicorn --paste``)
is :mod:`tests.scaffolds.test_generated_projects`.
"""

from __future__ import annotations

import email
import re
import subprocess
import tarfile
import tomllib
import zipfile
from email.message import Message

import pytest

from tests.harness.dist import Dist, built_dist
from tests.harness.gunicorn import REPO_ROOT

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
def test_the_sdist_holds_the_package_and_its_documents(dist: Dist) -> None:
    with tarfile.open(dist.sdist) as sdist:
        names = {name.split('/', 1)[1] for name in sdist.getnames() if '/' in name}
    documents = {'README.rst', 'CHANGES.rst', 'LICENSE', 'pyproject.toml'}
    wanted = tracked('aiotao') | tracked('docs') | documents
    missing = sorted(wanted - names)
    assert not missing, f'not in {dist.sdist.name}: {missing}'


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
