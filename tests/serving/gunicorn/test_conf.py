"""gunicorn settings from an ini's [server:main] (aiotao.serving.gunicorn.conf)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiotao.serving.gunicorn.conf import paste_ini, settings_from_paste_ini

INI = """\
[app:main]
use = egg:myproject

[server:main]
use = egg:gunicorn#main
host = 127.0.0.1
port = 6543
workers = 3
pidfile = %(here)s/gunicorn.pid
"""


@pytest.fixture
def ini(tmp_path: Path) -> Path:
    path = tmp_path / 'development.ini'
    path.write_text(INI)
    return path


@pytest.mark.parametrize(
    'argv',
    [
        ['--paste', '{ini}'],
        ['--paster', '{ini}#main', '--workers', '1'],
        ['--paste={ini}'],
        ['{ini}'],  # pserve development.ini
    ],
)
def test_the_ini_on_the_command_line_gives_bind_and_settings(
    ini: Path, argv: list[str]
) -> None:
    settings = settings_from_paste_ini([arg.format(ini=ini) for arg in argv])
    assert settings == {
        'worker_class': 'aiotao.serving.gunicorn.Worker',
        'bind': ['127.0.0.1:6543'],
        'workers': '3',
        'pidfile': f'{ini.parent}/gunicorn.pid',
    }


def test_the_ini_may_name_another_worker_and_several_hosts(tmp_path: Path) -> None:
    path = tmp_path / 'x.ini'
    path.write_text(
        '[server:main]\nhost = 127.0.0.1:1, unix:/tmp/s\nworker_class = sync\n'
    )
    assert settings_from_paste_ini(['--paste', str(path)]) == {
        'worker_class': 'sync',
        'bind': ['127.0.0.1:1', 'unix:/tmp/s'],
    }


def test_without_an_ini_only_the_worker_is_set() -> None:
    assert settings_from_paste_ini(['myapp:app']) == {
        'worker_class': 'aiotao.serving.gunicorn.Worker'
    }
    assert paste_ini(['-c', 'gunicorn.conf.py', 'app:app']) is None


def test_gunicorn_cmd_args_are_read_too(
    ini: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv('GUNICORN_CMD_ARGS', f'--paste {ini} --workers 2')
    monkeypatch.setattr('sys.argv', ['gunicorn'])
    assert settings_from_paste_ini()['bind'] == ['127.0.0.1:6543']
