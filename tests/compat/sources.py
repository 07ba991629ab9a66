"""Other projects' released sources, for running their tests against aiotao.

Pyramid's own test suite and the final stages of its wiki tutorials (made
with Pyramid's official cookiecutter, then the tutorial's code) ship in
Pyramid's sdist on PyPI.  :func:`pyramid_release` downloads the sdist of
the Pyramid version installed here, once, into ``var/compat`` and unpacks
it; nothing of it is kept in this repository.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.harness.gunicorn import REPO_ROOT

CACHE = REPO_ROOT / 'var' / 'compat'


def pyramid_release() -> Path:
    """The unpacked sdist of the installed Pyramid (its tests, docs, licence)."""
    pyramid_version = version('pyramid')
    unpacked = CACHE / f'pyramid-{pyramid_version}'
    if (unpacked / 'LICENSE.txt').exists():
        return unpacked
    CACHE.mkdir(parents=True, exist_ok=True)
    archive = CACHE / f'pyramid-{pyramid_version}.tar.gz'
    if not archive.exists():
        command = [
            sys.executable, '-m', 'pip', 'download', '--quiet', '--no-deps',
            '--no-binary', ':all:', '--dest', str(CACHE), f'pyramid=={pyramid_version}',
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        if done.returncode != 0 or not archive.exists():
            pytest.fail(
                f'could not download the Pyramid {pyramid_version} sdist from '
                f'PyPI ({" ".join(command)}):\n{done.stderr}',
                pytrace=False,
            )
    with tarfile.open(archive) as tar:
        tar.extractall(CACHE, filter='data')
    return unpacked
