"""The one line logged when gunicorn serves an aiotao app on another worker.

Real gunicorn masters on 127.0.0.1, started the way users get it wrong:
``gunicorn --paste ../project/development.ini`` from another directory
finds no ``gunicorn.conf.py`` and runs the ``sync`` worker.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest

from aiotao.worker_check import worker_problem
from tests.harness.gunicorn import ServerFactory, gunicorn  # noqa: F401  (fixture)

WARNING = "not on aiotao's worker"
FIX = "-k aiotao.serving.gunicorn.Worker, or from the directory of the project's gunicorn.conf.py"


def write_project(directory: Path) -> Path:
    """An ini and the scaffolds' ``gunicorn.conf.py`` in ``directory``."""
    directory.mkdir()
    ini = directory / 'development.ini'
    ini.write_text('[app:main]\nuse = call:tests.pkgs.servingapp:main\n')
    (directory / 'gunicorn.conf.py').write_text(
        'from aiotao.serving.gunicorn.conf import settings_from_paste_ini\n\n'
        'globals().update(settings_from_paste_ini())\n'
    )
    return ini


@pytest.mark.timeout(60)
def test_the_sync_worker_from_another_directory_is_named_with_the_fix(
    gunicorn: ServerFactory,  # noqa: F811
    tmp_path: Path,
) -> None:
    ini = write_project(tmp_path / 'project')
    # started from tmp_path: ./gunicorn.conf.py is not there
    server = gunicorn(['--paste', 'project/development.ini'], ready_path='/hello')
    server.wait_for_log(WARNING)
    lines = [line for line in server.log().splitlines() if WARNING in line]
    assert len(lines) == 1, server.log()
    assert 'SyncWorker (gunicorn.workers.sync)' in lines[0]
    assert FIX in lines[0]
    assert 'websocket views answer 501' in lines[0]
    # and it is true: the websocket view answers 501 on this worker
    request = urllib.request.Request(
        server.url('/echo'),
        headers={
            'Connection': 'Upgrade',
            'Upgrade': 'websocket',
            'Sec-WebSocket-Version': '13',
            'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
        },
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    refused.value.close()
    assert refused.value.code == 501
    assert ini.exists()


@pytest.mark.timeout(60)
@pytest.mark.parametrize('args', [['-k', 'gthread'], ['--preload']])
def test_other_wsgi_workers_and_preloading_are_noticed(
    gunicorn: ServerFactory,  # noqa: F811
    tmp_path: Path,
    args: list[str],
) -> None:
    write_project(tmp_path / 'project')
    server = gunicorn(
        ['--paste', 'project/development.ini', *args], ready_path='/hello'
    )
    server.wait_for_log(WARNING)
    assert server.log().count(WARNING) == 1, server.log()


@pytest.mark.timeout(60)
def test_aiotaos_worker_from_the_projects_directory_is_silent(
    gunicorn: ServerFactory,  # noqa: F811
    tmp_path: Path,
) -> None:
    project = tmp_path / 'project'
    write_project(project)
    server = gunicorn(['--paste', 'development.ini'], cwd=project, ready_path='/hello')
    server.wait_for_log('Booting worker')
    with urllib.request.urlopen(server.url('/hello'), timeout=10) as response:
        assert response.status == 200
    assert 'AsyncGunicornWorker' in server.log() or 'aiotao' in server.log()
    assert WARNING not in server.log()


def test_asgi_workers_and_subclasses_of_aiotaos_are_fine() -> None:
    from gunicorn.workers.gasgi import ASGIWorker
    from gunicorn.workers.gthread import ThreadWorker

    from aiotao.serving.gunicorn import UVLoopWorker, Worker

    class MyWorker(Worker):  # type: ignore[misc,valid-type]
        pass

    assert worker_problem(ASGIWorker) is None
    assert worker_problem(UVLoopWorker) is None
    assert worker_problem(MyWorker) is None
    assert worker_problem(ThreadWorker) is not None


def test_outside_gunicorn_nothing_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    from pyramid.config import Configurator

    config = Configurator(settings={})
    config.include('aiotao')
    config.commit()
    assert not [r for r in caplog.records if WARNING in r.getMessage()]
