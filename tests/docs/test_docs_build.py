"""The documentation builds with Sphinx, warnings as errors, and covers the package.

The build is ``make docs``'s: ``sphinx-build -W --keep-going -b html``, so a
broken reference, a page missing from the table of contents or a
docstring that is not valid reStructuredText fails the test suite, not
only the documentation job.  It runs without the network (no
intersphinx): ``conf.py`` must not need it.

The API reference documents every module of the package, and the
``>>>`` examples its pages show (the docstrings') are run as doctests.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import aiotao
from tests.docs.rst_examples import DOCS

#: Not API: the empty package of the console scripts.
NOT_API_EXACT = frozenset({'aiotao.scripts'})


# about 16 s of CPU (autodoc reads every module); the machine may be shared
@pytest.mark.timeout(150)
def test_docs_build_without_warnings(tmp_path: Path) -> None:
    if importlib.util.find_spec('sphinx') is None:
        pytest.fail('Sphinx is not installed: pip install sphinx', pytrace=False)
    result = subprocess.run(
        [
            sys.executable,
            '-m',
            'sphinx',
            '-W',
            '--keep-going',
            '-q',
            '-b',
            'html',
            '-d',
            str(tmp_path / 'doctrees'),
            str(DOCS),
            str(tmp_path / 'html'),
        ],
        capture_output=True,
        text=True,
        timeout=140,
    )
    assert result.returncode == 0, f'Sphinx warned or failed:\n{result.stderr}'
    index = (tmp_path / 'html' / 'index.html').read_text()
    for page in ('migrating', 'websockets', 'tutorial', 'api/core'):
        assert f'href="{page}.html"' in index, f'{page} is not in the table of contents'
    # autodoc found the docstrings (an import error would leave the page empty)
    api = (tmp_path / 'html' / 'api' / 'mappers.html').read_text()
    assert 'id="aiotao.mappers.http.CoroutineMapper"' in api
    assert 'a sync view is a configuration error' in api


def api_modules() -> set[str]:
    """The modules the API reference must document."""
    return {
        module.name
        for module in pkgutil.walk_packages(aiotao.__path__, 'aiotao.')
        if module.name not in NOT_API_EXACT
    } | {'aiotao'}


def test_every_module_is_in_the_api_reference() -> None:
    documented = set(
        re.findall(r'^\.\. automodule:: (\S+)$', _api_text(), re.MULTILINE)
    )
    modules = api_modules()
    missing = sorted(modules - documented)
    assert not missing, f'not in docs/api/*.rst: {missing}'
    unknown = sorted(documented - modules)
    assert not unknown, f'docs/api/*.rst documents modules that do not exist: {unknown}'


def _api_text() -> str:
    return '\n'.join(path.read_text() for path in sorted((DOCS / 'api').glob('*.rst')))


@pytest.mark.parametrize('name', sorted(api_modules()))
def test_docstring_examples_of_the_api_reference_run(name: str) -> None:
    """The ``>>>`` examples the API pages show are doctests, and they pass."""
    result = doctest.testmod(
        importlib.import_module(name), optionflags=doctest.ELLIPSIS
    )
    assert result.failed == 0, f'{name}: {result.failed} docstring examples failed'
