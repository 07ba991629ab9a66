"""The supported Pythons found on this machine, besides the one running this script.

``make test`` runs the whole suite on the default ``python3`` and, through
``make test-pythons``, the install, scaffold and core-pipeline tests on
each interpreter this prints, one path a line::

    $ python devtools/pythons.py
    /root/.pyenv/versions/3.12.1/bin/python3.12
    /root/.pyenv/versions/3.13.0/bin/python3.13

Supported versions are the ``Programming Language :: Python :: 3.X``
classifiers of ``pyproject.toml``.  An interpreter counts if it runs and
can make a virtualenv with pip (Debian's ``python3.X`` needs
``python3.X-venv`` for that); it is looked for as ``python3.X`` on
``PATH``, in ``/usr/bin`` and ``/usr/local/bin``, and among pyenv's
versions (``$PYENV_ROOT``, by default ``~/.pyenv``).  ``--all`` prints the
running interpreter's version too.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: Prints the version when the interpreter can build a virtualenv with pip.
PROBE = 'import ensurepip, venv, sys; print("%d.%d" % sys.version_info[:2])'


def supported_versions(pyproject: Path = REPO / 'pyproject.toml') -> list[str]:
    """The ``3.X`` of the project's Python classifiers, in order."""
    classifiers = tomllib.loads(pyproject.read_text())['project']['classifiers']
    found = (
        re.fullmatch(r'Programming Language :: Python :: (3\.\d+)', c)
        for c in classifiers
    )
    return [match.group(1) for match in found if match]


def candidates(version: str) -> Iterator[str]:
    """Where an interpreter of ``version`` may be, most likely first."""
    name = f'python{version}'
    on_path = shutil.which(name)
    if on_path:
        yield on_path
    for directory in ('/usr/local/bin', '/usr/bin'):
        yield f'{directory}/{name}'
    pyenv = Path(os.environ.get('PYENV_ROOT', Path.home() / '.pyenv'))
    for installed in sorted((pyenv / 'versions').glob(f'{version}.*'), reverse=True):
        yield str(installed / 'bin' / name)


def find(version: str) -> str | None:
    """The first working interpreter of ``version``, or ``None``."""
    for path in candidates(version):
        if not Path(path).exists():
            continue
        try:
            probe = subprocess.run(
                [path, '-c', PROBE],
                capture_output=True,
                text=True,
                timeout=30,
            )
        except OSError:
            continue
        # a pyenv shim of a version that is not selected fails here
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return path
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument(
        '--all', action='store_true', help="include the running interpreter's version"
    )
    args = parser.parse_args(argv)
    running = f'{sys.version_info.major}.{sys.version_info.minor}'
    for version in supported_versions():
        if version == running and not args.all:
            continue
        path = sys.executable if version == running else find(version)
        if path is not None:
            print(path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
