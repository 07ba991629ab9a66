"""What a generated project's files say about itself is true.

Comments and docstrings name files, commands and variables; a reader
follows them.  Every ``static/...`` file named exists (in the project, or
in the package an asset spec names), and no file sends the reader to a
Makefile the project does not have.
"""

from __future__ import annotations

import io
import re
from importlib.resources import files
from pathlib import Path

import pytest

from aiotao.scripts.pcreate import main as pcreate

SCAFFOLDS = ['aiotao_starter', 'aiotao_websocket']
TEXT_SUFFIXES = {'.py', '.ini', '.rst', '.jinja2', '.js', '.cfg', '.txt'}
STATIC = re.compile(r'(?:([\w.]+):)?(static/[\w./-]*\w)')


def generate(scaffold: str, directory: Path) -> Path:
    project = directory / 'shop'
    assert pcreate(['-s', scaffold, str(project)], out=io.StringIO()) == 0
    return project


def texts(project: Path) -> dict[Path, str]:
    return {
        path: path.read_text()
        for path in project.rglob('*')
        if path.is_file() and (path.suffix in TEXT_SUFFIXES or path.name == 'setup.py')
    }


@pytest.mark.parametrize('scaffold', SCAFFOLDS)
def test_every_static_file_named_exists(scaffold: str, tmp_path: Path) -> None:
    project = generate(scaffold, tmp_path)
    named = 0
    for path, text in texts(project).items():
        for package, static in STATIC.findall(text):
            if '{' in static:
                continue
            named += 1
            if package:  # an asset spec: aiotao.chat:static/chat.js
                assert files(package).joinpath(static).is_file(), (
                    f'{path.name} names {package}:{static}, which does not exist'
                )
            else:
                assert (project / 'shop' / static).is_file(), (
                    f'{path.name} names {static}, which the project does not have'
                )
    assert named >= 1


@pytest.mark.parametrize('scaffold', SCAFFOLDS)
def test_no_file_points_to_a_makefile(scaffold: str, tmp_path: Path) -> None:
    project = generate(scaffold, tmp_path)
    assert not (project / 'Makefile').exists()
    for path, text in texts(project).items():
        assert not re.search(r'Makefile|`make`|\bmake [a-z]', text), (
            f'{path.relative_to(project)} mentions make, which the project lacks'
        )


#: The arena shooter is kept once, in the demo app; the websocket scaffold
#: ships a copy of its files as the generated project's own code.
DEMO = Path(__file__).parents[2] / 'demo' / 'aiotao_demo'
ARENA_FILES = ['arena.py', 'static/arena.js', 'static/arena.css']


@pytest.mark.parametrize('name', ARENA_FILES)
def test_the_generated_arena_is_the_demos(name: str, tmp_path: Path) -> None:
    project = generate('aiotao_websocket', tmp_path)
    assert (project / 'shop' / name).read_text() == (DEMO / name).read_text(), (
        f'aiotao/scaffolds/websocket/+package+/{name} differs from '
        f'demo/aiotao_demo/{name}: change both (copy one over the other)'
    )
