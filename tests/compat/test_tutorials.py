"""Pyramid's own starting points, with aiotao included and without.

The final stages of Pyramid's two wiki tutorials — each a project made by
Pyramid's official cookiecutter (the ZODB and the SQLAlchemy backend) plus
the tutorial's code — ship in Pyramid's sdist (:mod:`tests.compat.sources`).
For each, with ``aiotao`` in ``pyramid.includes`` and without it:

* the project's own test suite passes;
* served by aiotao's gunicorn worker, a page written through the wiki's
  views (log in, add a page) is there after the server restarts.

The cookiecutter itself lives on GitHub, which this machine cannot reach;
the tutorials' ``installation`` stage is its output, and these final
stages keep its layout, ini files and add-ons (pyramid_tm, pyramid_retry,
pyramid_zodbconn or SQLAlchemy with zope.sqlalchemy, pyramid_debugtoolbar).
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.compat.sources import pyramid_release
from tests.harness.gunicorn import (
    ServerFactory,
    ServerProcess,
    gunicorn,  # noqa: F401  (fixture)
)

TUTORIALS = {
    'zodb': 'docs/tutorials/wiki/src/tests',
    'sqlalchemy': 'docs/tutorials/wiki2/src/tests',
}
INCLUDES = {'aiotao included': True, 'aiotao not included': False}
INITIALIZE_DB = (
    'from tutorial.scripts.initialize_db import main; '
    "main(['initialize_tutorial_db', 'development.ini'])"
)


def project(name: str, with_aiotao: bool, where: Path) -> Path:
    """A copy of the tutorial project, served by ``call:`` (not installed)."""
    root = where / name
    shutil.copytree(pyramid_release() / TUTORIALS[name], root)
    for ini in root.glob('*.ini'):
        text = ini.read_text().replace('use = egg:tutorial', 'use = call:tutorial:main')
        if with_aiotao:
            if 'pyramid.includes =' in text:
                text = text.replace(
                    'pyramid.includes =', 'pyramid.includes =\n    aiotao', 1
                )
            else:
                text = text.replace(
                    '[app:main]', '[app:main]\npyramid.includes = aiotao', 1
                )
        ini.write_text(text)
    return root


def environment(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        filter(None, [str(root), env.get('PYTHONPATH')])
    )
    return env


def run(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *argv],
        cwd=root,
        env=environment(root),
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.timeout(300)
@pytest.mark.parametrize('included', INCLUDES)
@pytest.mark.parametrize('name', TUTORIALS)
def test_the_projects_own_tests_pass(name: str, included: str, tmp_path: Path) -> None:
    root = project(name, INCLUDES[included], tmp_path)
    if INCLUDES[included]:
        assert 'aiotao' in (root / 'testing.ini').read_text()
    done = run(root, '-m', 'pytest', '-q', '-p', 'no:cacheprovider')
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert re.search(r'\d+ passed', done.stdout), done.stdout[-2000:]


class Browser:
    """Cookies and forms, as a person's browser would keep and fill them."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> str:
        with self.opener.open(self.server.url(path), timeout=15) as response:
            return str(response.read().decode())

    def post(self, path: str, **fields: str) -> str:
        data = urllib.parse.urlencode(fields).encode()
        with self.opener.open(self.server.url(path), data, timeout=15) as response:
            return str(response.read().decode())


def csrf_token(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def write_a_page(name: str, browser: Browser, text: str) -> None:
    if name == 'zodb':
        browser.post(
            '/login', login='editor', password='editor', came_from='/',
            **{'form.submitted': 'Log In'},
        )  # fmt: skip
        browser.post('/add_page/NewPage', body=text, **{'form.submitted': 'Save'})
    else:
        token = csrf_token(browser.get('/login'))
        browser.post(
            '/login', login='editor', password='editor', csrf_token=token,
            **{'form.submitted': 'Log In'},
        )  # fmt: skip
        token = csrf_token(browser.get('/add_page/NewPage'))
        browser.post(
            '/add_page/NewPage', body=text, csrf_token=token,
            **{'form.submitted': 'Save'},
        )  # fmt: skip


@pytest.mark.timeout(300)
@pytest.mark.parametrize('included', INCLUDES)
@pytest.mark.parametrize('name', TUTORIALS)
def test_a_page_written_under_the_worker_survives_a_restart(
    name: str,
    included: str,
    gunicorn: ServerFactory,  # noqa: F811
    tmp_path: Path,
) -> None:
    root = project(name, INCLUDES[included], tmp_path)
    if name == 'sqlalchemy':
        for argv in (
            ['-m', 'alembic', '-c', 'development.ini', 'upgrade', 'head'],
            # the project's initialize_tutorial_db console script
            ['-c', INITIALIZE_DB],
        ):
            done = run(root, *argv)
            assert done.returncode == 0, done.stderr[-3000:]
    args = [
        '--paste', str(root / 'development.ini'),
        '--worker-class', 'aiotao.serving.gunicorn.Worker',
        '--chdir', str(root),
    ]  # fmt: skip
    server = gunicorn(args, cwd=root, env=environment(root), ready_path='/')
    text = f'Written by {included} in the {name} wiki.'
    write_a_page(name, Browser(server), text)
    assert text in Browser(server).get('/NewPage')
    server.stop()

    restarted = gunicorn(args, cwd=root, env=environment(root), ready_path='/')
    assert text in Browser(restarted).get('/NewPage')
