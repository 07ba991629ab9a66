"""pcreate: listing, creating, simulating, refusing bad names and targets."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from aiotao.scripts.pcreate import main

PCREATE = Path(sys.executable).parent / 'pcreate'


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(args), out=out)
    return code, out.getvalue()


def test_console_script_lists_scaffolds_from_entry_points() -> None:
    result = subprocess.run(
        [str(PCREATE), '-l'], capture_output=True, text=True, timeout=60, check=True
    )
    assert 'aiotao_starter' in result.stdout
    assert 'aiotao_websocket' in result.stdout


def test_list_reports_pyramid_1_scaffolds_as_unavailable_instead_of_crashing() -> None:
    # pyramid_jinja2 still registers a Pyramid 1 scaffold in the same group
    code, output = run('-l')
    assert code == 0
    assert 'pyramid_jinja2_starter' in output
    assert 'Pyramid 2 removed' in output


def test_creates_the_starter_project(tmp_path: Path) -> None:
    target = tmp_path / 'My-Shop'
    code, output = run('-s', 'aiotao_starter', str(target))
    assert code == 0, output
    assert (target / 'setup.py').read_text().count("name='My-Shop'") == 1
    assert (target / 'my_shop' / '__init__.py').exists()
    assert (
        'from my_shop.views import home'
        in (target / 'my_shop' / 'tests' / 'test_views.py').read_text()
    )
    # the project's own Jinja2 templates are copied, not rendered
    assert (
        '{% block content %}'
        in (target / 'my_shop' / 'templates' / 'home.jinja2').read_text()
    )
    assert 'gunicorn --paste development.ini' in output


def test_simulate_writes_nothing(tmp_path: Path) -> None:
    # (not 'demo': the repository's demo/ is importable from its root)
    target = tmp_path / 'blog'
    code, output = run('-s', 'aiotao_starter', '--simulate', str(target))
    assert code == 0, output
    assert 'create' in output and 'blog/setup.py' in output
    assert not target.exists()


@pytest.mark.parametrize('bad_name', ['1bad-name', 'class', 'caf\u00e9'])
def test_invalid_package_names_are_refused(
    tmp_path: Path, bad_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run('-s', 'aiotao_starter', str(tmp_path / bad_name))
    assert code == 2
    assert 'package' in capsys.readouterr().err
    assert not (tmp_path / bad_name).exists()


def test_a_name_that_clashes_with_an_importable_package_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run('-s', 'aiotao_starter', str(tmp_path / 'pyramid'))
    assert code == 2
    assert (
        "a package named 'pyramid' can already be imported" in capsys.readouterr().err
    )


def test_console_script_refuses_1bad_name_with_a_clear_message(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(PCREATE), '-s', 'aiotao_websocket', '1bad-name'],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert (
        "'1bad_name' (from '1bad-name') is not a valid Python package name"
        in result.stderr
    )


def test_an_existing_target_is_refused_without_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / 'shop'
    target.mkdir()
    (target / 'notes.txt').write_text('mine')
    code, _ = run('-s', 'aiotao_starter', str(target))
    assert code == 2
    assert 'already exists' in capsys.readouterr().err
    assert sorted(p.name for p in target.iterdir()) == ['notes.txt']


def test_overwrite_replaces_changed_files_and_keeps_others(tmp_path: Path) -> None:
    target = tmp_path / 'shop'
    assert run('-s', 'aiotao_starter', str(target))[0] == 0
    (target / 'README.rst').write_text('edited')
    (target / 'notes.txt').write_text('mine')
    code, output = run('-s', 'aiotao_starter', '--overwrite', str(target))
    assert code == 0
    assert 'overwrite' in output and 'identical' in output
    assert (target / 'README.rst').read_text() != 'edited'
    assert (target / 'notes.txt').read_text() == 'mine'


def test_unknown_scaffold_names_the_available_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run('-s', 'nope', str(tmp_path / 'x'))
    assert code == 2
    assert 'aiotao_starter' in capsys.readouterr().err


def test_missing_arguments_are_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run()[0] == 2
    assert 'pcreate -l' in capsys.readouterr().err


def test_the_next_steps_start_what_the_project_needs(tmp_path: Path) -> None:
    code, output = run('-s', 'aiotao_websocket', str(tmp_path / 'chat'))
    assert code == 0, output
    steps = [step.strip() for step in output.split('Next:\n', 1)[1].splitlines()]
    database = 'python -m secantus --port 27017 --storage-path var/mongodb &'
    assert steps[1:] == [
        'pip install -e ".[test]"',  # quoted, for zsh
        'pytest',
        f'{database}   # the development MongoDB',
        'gunicorn --paste development.ini',
    ]
    # the database it starts is the one development.ini uses, as in the README
    project = tmp_path / 'chat'
    ini = (project / 'development.ini').read_text()
    assert 'mongo.uri = mongodb://127.0.0.1:27017/chat' in ini
    assert database in (project / 'README.rst').read_text()


def test_the_starter_needs_no_database(tmp_path: Path) -> None:
    code, output = run('-s', 'aiotao_starter', str(tmp_path / 'bakery'))
    assert code == 0, output
    assert 'secantus' not in output
