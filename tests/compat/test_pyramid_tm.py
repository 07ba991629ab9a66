"""pyramid_tm + pyramid_retry + SQLAlchemy: writes are committed, rolled back, retried.

The app (:mod:`tests.pkgs.tmapp`) is the cookiecutter's stack on SQLite.
Each test reads the database file with its own connection, after the
request: what it finds is what was committed.  The same app runs:

* in-process through the WSGI path (WebTest: ``make_wsgi_app()`` as a
  WSGI server calls it) and through ``make_async_app(app).handle()`` (as
  under aiotao's worker), with pyramid_tm's default (thread-local)
  transaction manager and with ``pyramid_tm.explicit_manager``;
* under real servers: waitress and aiotao's gunicorn worker, with and
  without aiotao included.
"""

from __future__ import annotations

import asyncio
import sqlite3
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pyramid.request import Request
from webtest import TestApp

from aiotao import make_async_app
from tests.harness.gunicorn import (  # noqa: F401  (fixtures)
    ServerFactory,
    free_port,
    gunicorn,
    program,
    server_process,
)
from tests.pkgs.tmapp import main

MANAGERS = {
    'thread-local manager': {},
    'explicit manager': {'tm.manager_hook': 'pyramid_tm.explicit_manager'},
}


def committed(database: Path) -> list[tuple[str, int]]:
    """The notes committed to ``database``, read with a connection of our own."""
    with sqlite3.connect(database) as connection:
        return list(connection.execute('SELECT text, attempt FROM notes ORDER BY id'))


def make_app(database: Path, **settings: Any) -> Any:
    return main({}, **{'sqlalchemy.url': f'sqlite:///{database}', **settings})


# -- in-process: the WSGI path and the async path -----------------------------

Post = Callable[[str, dict[str, str]], tuple[int, Any]]


def wsgi_poster(app: Any) -> Post:
    client = TestApp(app)

    def post(path: str, params: dict[str, str]) -> tuple[int, Any]:
        response = client.post(path, params, expect_errors=True)
        return response.status_int, response.json

    return post


def async_poster(app: Any) -> Post:
    router = make_async_app(app)

    def post(path: str, params: dict[str, str]) -> tuple[int, Any]:
        request = Request.blank(path, POST=params)
        response = asyncio.run(router.handle(request.environ))
        return response.status_int, response.json

    return post


@pytest.fixture(params=['wsgi path', 'async path'])
def poster(request: pytest.FixtureRequest) -> Callable[[Any], Post]:
    return wsgi_poster if request.param == 'wsgi path' else async_poster  # type: ignore[return-value]


@pytest.mark.parametrize('manager', MANAGERS)
def test_a_sync_views_write_is_committed(
    poster: Callable[[Any], Post], manager: str, tmp_path: Path
) -> None:
    database = tmp_path / 'notes.sqlite'
    post = poster(make_app(database, **MANAGERS[manager]))
    assert post('/notes', {'text': 'kept'})[0] == 200
    assert post('/notes', {'text': 'kept too'})[0] == 200
    assert committed(database) == [('kept', 0), ('kept too', 0)]


@pytest.mark.parametrize('manager', MANAGERS)
def test_an_exception_rolls_the_write_back(
    poster: Callable[[Any], Post], manager: str, tmp_path: Path
) -> None:
    database = tmp_path / 'notes.sqlite'
    post = poster(make_app(database, **MANAGERS[manager]))
    assert post('/notes/failing', {'text': 'gone'}) == (409, {'refused': 'gone'})
    assert post('/notes', {'text': 'kept'})[0] == 200
    assert committed(database) == [('kept', 0)]


@pytest.mark.parametrize('manager', MANAGERS)
def test_a_retryable_conflict_is_retried(
    poster: Callable[[Any], Post], manager: str, tmp_path: Path
) -> None:
    database = tmp_path / 'notes.sqlite'
    post = poster(make_app(database, **MANAGERS[manager]))
    status, body = post('/notes/conflicting', {'text': 'second try'})
    assert (status, body['attempt']) == (200, 1)
    # the first attempt's write was rolled back, the second committed
    assert committed(database) == [('second try', 1)]


@pytest.mark.parametrize('manager', MANAGERS)
def test_an_async_views_write_is_committed(
    poster: Callable[[Any], Post], manager: str, tmp_path: Path
) -> None:
    """With the default manager too: aiotao makes request.tm the request's own."""
    database = tmp_path / 'notes.sqlite'
    post = poster(make_app(database, **MANAGERS[manager]))
    assert post('/notes/async', {'text': 'from a coroutine'})[0] == 200
    assert post('/notes/async', {'text': 'and another'})[0] == 200
    assert committed(database) == [('from a coroutine', 0), ('and another', 0)]


def test_an_apps_own_manager_hook_is_kept(tmp_path: Path) -> None:
    app = make_app(tmp_path / 'notes.sqlite', **MANAGERS['explicit manager'])
    from pyramid_tm import explicit_manager

    assert app.registry.settings['tm.manager_hook'] is explicit_manager


# -- real servers ---------------------------------------------------------------


def write_ini(path: Path, database: Path, **settings: Any) -> Path:
    lines = [
        '[app:main]',
        'use = call:tests.pkgs.tmapp:main',
        f'sqlalchemy.url = sqlite:///{database}',
        *(f'{key} = {value}' for key, value in settings.items()),
    ]
    path.write_text('\n'.join(lines) + '\n')
    return path


def http_post(url: str, params: dict[str, str]) -> int:
    data = urllib.parse.urlencode(params).encode()
    try:
        with urllib.request.urlopen(url, data=data, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


SERVERS = ['waitress', 'aiotao worker']
INCLUDES = {'aiotao included': 'true', 'aiotao not included': 'false'}


@pytest.mark.timeout(90)
@pytest.mark.parametrize('server', SERVERS)
@pytest.mark.parametrize('included', INCLUDES)
@pytest.mark.parametrize('manager', MANAGERS)
def test_writes_under_real_servers(
    server: str,
    included: str,
    manager: str,
    gunicorn: ServerFactory,  # noqa: F811
    server_process: ServerFactory,  # noqa: F811
    tmp_path: Path,
) -> None:
    database = tmp_path / 'notes.sqlite'
    settings = {'tmapp.aiotao': INCLUDES[included], **MANAGERS[manager]}
    ini = write_ini(tmp_path / 'app.ini', database, **settings)
    if server == 'waitress':
        port = free_port()
        process = server_process(
            [program('pserve', 'pyramid'), str(_with_waitress(ini, port))],
            port=port,
            ready_path='/notes',
        )
    else:
        process = gunicorn(
            ['--paste', str(ini), '--worker-class', 'aiotao.serving.gunicorn.Worker'],
            ready_path='/notes',
        )
    assert http_post(process.url('/notes'), {'text': 'kept'}) == 200
    assert http_post(process.url('/notes/failing'), {'text': 'gone'}) == 409
    assert http_post(process.url('/notes/conflicting'), {'text': 'retried'}) == 200
    expected = [('kept', 0), ('retried', 1)]
    if included == 'aiotao included':
        assert http_post(process.url('/notes/async'), {'text': 'async'}) == 200
        expected.append(('async', 0))
    assert committed(database) == expected


def _with_waitress(ini: Path, port: int) -> Path:
    text = ini.read_text() + (
        f'\n[server:main]\nuse = egg:waitress#main\nlisten = 127.0.0.1:{port}\n'
    )
    ini.write_text(text)
    return ini
