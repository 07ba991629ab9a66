"""The pytest plugin as users meet it: pytest run on a small project of theirs.

Each test writes a project (an ini, a ``pytest.ini``, a ``conftest.py``,
tests using the ``aiotao_*`` fixtures) into a temporary directory and runs
``pytest`` on it in a subprocess.  The plugin is found through its
``pytest11`` entry point, as in a user's virtualenv.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from aiotao.testing.mongodb import TestDatabase
from tests.harness.gunicorn import REPO_ROOT
from tests.testing.conftest import write_ini

PYTEST_INI = """\
[pytest]
filterwarnings =
    error
    ignore:'cgi' is deprecated:DeprecationWarning
    ignore:pkg_resources is deprecated as an API:UserWarning
    ignore:Deprecated call to `pkg_resources.declare_namespace:DeprecationWarning
{extra}
"""
ASYNCIO = 'asyncio_default_fixture_loop_scope = function\nasyncio_mode = '


def run_pytest(
    directory: Path,
    *args: str,
    pythonpath: list[Path] | None = None,
    environ: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        str(path) for path in [*(pythonpath or []), REPO_ROOT]
    )
    env.pop('AIOTAO_MONGO_URI', None)
    env.update(environ or {})
    return subprocess.run(
        [sys.executable, '-m', 'pytest', '-p', 'no:cacheprovider', '-q', *args],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def write(directory: Path, name: str, text: str) -> None:
    (directory / name).write_text(textwrap.dedent(text))


def passed(result: subprocess.CompletedProcess[str], count: int) -> None:
    assert result.returncode == 0, result.stdout + result.stderr
    assert f'{count} passed' in result.stdout, result.stdout


def test_clients_from_an_ini_and_the_loop_fixture(tmp_path: Path) -> None:
    write_ini(tmp_path / 'test.ini')
    write(
        tmp_path,
        'pytest.ini',
        PYTEST_INI.format(extra=ASYNCIO + 'strict\naiotao_ini = test.ini'),
    )
    write(
        tmp_path,
        'test_app.py',
        """
        import pytest

        from aiotao.testing import ConnectionClosed, WebsocketRejected


        @pytest.mark.asyncio
        async def test_async_client(aiotao_client):
            # the client was started: ServerStarted ran once
            assert (await aiotao_client.get('/lifecycle')).json == {'started': 1}
            async with aiotao_client.websocket_connect('/ws/echo') as ws:
                await ws.send('hi')
                assert await ws.recv() == 'hi'
            with pytest.raises(WebsocketRejected) as refused:
                async with aiotao_client.websocket_connect('/ws/private'):
                    pass
            assert refused.value.response.status_int == 403


        def test_sync_client(aiotao_sync_client):
            assert aiotao_sync_client.get('/hello').json['hello'] == 'world'
            with aiotao_sync_client.websocket_connect('/ws/fail') as ws:
                ws.send('go')
                with pytest.raises(ConnectionClosed) as closed:
                    ws.recv()
            assert closed.value.code == 1011


        def test_loop(aiotao_loop):
            async def answer():
                return 42

            assert aiotao_loop.run_until_complete(answer()) == 42
        """,
    )
    passed(run_pytest(tmp_path), 3)


def test_a_configurator_fixture_settings_and_a_fresh_database(tmp_path: Path) -> None:
    write(tmp_path, 'pytest.ini', PYTEST_INI.format(extra=ASYNCIO + 'auto'))
    write(
        tmp_path,
        'conftest.py',
        """
        import pytest
        from pyramid.config import Configurator


        async def visit(request):
            await request.db.visits.insert_one({'n': 1})
            return {'visits': await request.db.visits.count_documents({})}


        @pytest.fixture
        def aiotao_app(aiotao_mongodb):
            config = Configurator(settings=aiotao_mongodb.settings)
            config.include('aiotao')
            config.add_route('visit', '/visit')
            config.add_view(visit, route_name='visit', renderer='json')
            return config
        """,
    )
    write(
        tmp_path,
        'test_db.py',
        """
        import pytest

        names = []


        @pytest.mark.parametrize('run', [1, 2])
        async def test_each_test_has_a_fresh_database(aiotao_client, aiotao_mongodb, run):
            names.append(aiotao_mongodb.name)
            assert (await aiotao_client.get('/visit')).json == {'visits': 1}
            assert (await aiotao_client.get('/visit')).json == {'visits': 2}


        def test_the_databases_differ():
            assert len(set(names)) == 2
        """,
    )
    passed(run_pytest(tmp_path), 3)


def test_the_ini_from_the_command_line_with_settings(tmp_path: Path) -> None:
    write_ini(tmp_path / 'test.ini', **{'aiotao.max_body_size': '10'})
    write(tmp_path, 'pytest.ini', PYTEST_INI.format(extra=ASYNCIO + 'auto'))
    write(
        tmp_path,
        'conftest.py',
        """
        import pytest


        @pytest.fixture
        def aiotao_settings():
            return {'aiotao.max_body_size': '100'}
        """,
    )
    write(
        tmp_path,
        'test_settings.py',
        """
        async def test_settings_replace_the_ini(aiotao_client):
            response = await aiotao_client.post('/echo', data=b'x' * 50)
            assert response.json['length'] == 50
        """,
    )
    passed(run_pytest(tmp_path, '--aiotao-ini', 'test.ini#main'), 1)


def test_without_an_application_the_message_says_what_to_do(tmp_path: Path) -> None:
    write(tmp_path, 'pytest.ini', PYTEST_INI.format(extra=ASYNCIO + 'auto'))
    write(
        tmp_path,
        'test_nothing.py',
        """
        def test_client(aiotao_sync_client):
            pass
        """,
    )
    result = run_pytest(tmp_path)
    assert result.returncode == 1
    assert 'give an ini file with "pytest --aiotao-ini development.ini"' in (
        result.stdout
    )
    assert 'override the aiotao_app fixture' in result.stdout


def test_without_pytest_asyncio_the_sync_client_still_works(tmp_path: Path) -> None:
    # pytest-asyncio made unimportable, as where it is not installed
    hidden = tmp_path / 'hidden'
    (hidden / 'pytest_asyncio').mkdir(parents=True)
    write(hidden / 'pytest_asyncio', '__init__.py', "raise ImportError('hidden')\n")
    project = tmp_path / 'project'
    project.mkdir()
    write_ini(project / 'test.ini')
    write(project, 'pytest.ini', PYTEST_INI.format(extra='aiotao_ini = test.ini'))
    write(
        project,
        'test_app.py',
        """
        def test_sync_client(aiotao_sync_client):
            assert aiotao_sync_client.get('/hello').status_int == 200


        def test_async_client(aiotao_client):
            pass
        """,
    )
    result = run_pytest(project, '-p', 'no:asyncio', pythonpath=[hidden])
    assert '1 passed' in result.stdout, result.stdout + result.stderr
    assert 'which need pytest-asyncio: pip install pytest-asyncio' in result.stdout


def hide_secantusdb(directory: Path) -> Path:
    """A ``sitecustomize`` that makes SecantusDB unfindable, as if not installed."""
    hidden = directory / 'hidden'
    hidden.mkdir()
    write(
        hidden,
        'sitecustomize.py',
        """
        import importlib.util

        _find_spec = importlib.util.find_spec


        def find_spec(name, package=None):
            return None if name == 'secantus' else _find_spec(name, package)


        importlib.util.find_spec = find_spec
        """,
    )
    return hidden


def test_the_mongodb_fixture_names_secantusdb_when_nothing_is_there(
    tmp_path: Path,
) -> None:
    hidden = hide_secantusdb(tmp_path)
    project = tmp_path / 'project'
    project.mkdir()
    write(project, 'pytest.ini', PYTEST_INI.format(extra=ASYNCIO + 'auto'))
    write(
        project,
        'test_db.py',
        """
        def test_db(aiotao_mongodb):
            pass
        """,
    )
    result = run_pytest(project, pythonpath=[hidden])
    assert result.returncode == 1
    assert 'pip install SecantusDB' in result.stdout
    assert '--aiotao-mongo-uri' in result.stdout
    assert 'AIOTAO_MONGO_URI' in result.stdout


@pytest.mark.parametrize('given', ['option', 'environment'])
def test_a_given_mongodb_server_is_used(
    tmp_path: Path, aiotao_mongodb: TestDatabase, given: str
) -> None:
    server = aiotao_mongodb.uri.rsplit('/', 1)[0] + '/'
    hidden = hide_secantusdb(tmp_path)  # starting one would fail
    project = tmp_path / 'project'
    project.mkdir()
    write(project, 'pytest.ini', PYTEST_INI.format(extra=ASYNCIO + 'auto'))
    write(
        project,
        'test_db.py',
        f"""
        import pymongo


        def test_db(aiotao_mongodb):
            assert aiotao_mongodb.uri.startswith({server!r})
            with pymongo.MongoClient(aiotao_mongodb.uri) as client:
                client.get_default_database().things.insert_one({{'a': 1}})
        """,
    )
    args = ['--aiotao-mongo-uri', server] if given == 'option' else []
    environ = {'AIOTAO_MONGO_URI': server} if given == 'environment' else {}
    passed(run_pytest(project, *args, pythonpath=[hidden], environ=environ), 1)


def test_package_files_of_modules_pytest_rewrote_are_found(tmp_path: Path) -> None:
    # A module loaded by pytest's assertion rewriter, as aiotao's own are
    # when aiotao is installed from a wheel: Pyramid's asset lookup
    # (pkg_resources) must still find the files beside it.
    import importlib.util

    import pkg_resources
    from _pytest.assertion.rewrite import AssertionRewritingHook

    package = tmp_path / 'rewritten_pkg'
    (package / 'static').mkdir(parents=True)
    (package / '__init__.py').write_text('')
    (package / 'static' / 'app.js').write_text('// served')
    spec = importlib.util.spec_from_file_location(
        'rewritten_pkg', package / '__init__.py'
    )
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    module.__loader__ = AssertionRewritingHook.__new__(AssertionRewritingHook)
    sys.modules['rewritten_pkg'] = module
    try:
        assert pkg_resources.resource_exists('rewritten_pkg', 'static/app.js')
        assert pkg_resources.resource_string('rewritten_pkg', 'static/app.js') == (
            b'// served'
        )
    finally:
        del sys.modules['rewritten_pkg']
