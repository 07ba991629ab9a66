"""aiotao as a user gets it: the release ``make dist`` builds, in a fresh virtualenv.

:func:`built_dist` builds the sdist, and the wheel from the sdist, as
``make dist`` does (``python -m build``), once per test session, so that
a file missing from either fails the tests that install it.
:class:`Virtualenv` is a new virtualenv of the running interpreter's
version; its commands run without this checkout on ``sys.path``, so what
they import is what was installed::

    dist = built_dist(tmp_path_factory)
    env = Virtualenv.create(tmp_path / 'venv')
    env.must(env.pip, 'install', '-q', str(dist.wheel))
    env.must(env.bin / 'pcreate', '-s', 'aiotao_starter', 'shop', cwd=tmp_path)
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness.gunicorn import REPO_ROOT


@dataclass(frozen=True)
class Dist:
    """The two files of a release."""

    sdist: Path
    wheel: Path


_built: Dist | None = None


def built_dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    """The sdist and wheel of this checkout, built once per session."""
    global _built
    if _built is None:
        outdir = tmp_path_factory.mktemp('dist')
        result = subprocess.run(
            [sys.executable, '-m', 'build', '--outdir', str(outdir), str(REPO_ROOT)],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0 and 'No module named build' in result.stderr:
            pytest.fail('the build package is needed: pip install -e ".[dev]"')
        assert result.returncode == 0, (
            f'the build failed:\n{result.stdout}\n{result.stderr}'
        )
        (sdist,) = outdir.glob('aiotao-*.tar.gz')
        (wheel,) = outdir.glob('aiotao-*.whl')
        _built = Dist(sdist, wheel)
    return _built


@dataclass(frozen=True)
class Virtualenv:
    """A fresh virtualenv whose commands see only what was installed in it."""

    root: Path

    @classmethod
    def create(cls, root: Path) -> Virtualenv:
        venv.create(root, with_pip=True)
        return cls(root)

    @property
    def bin(self) -> Path:
        return self.root / 'bin'

    @property
    def pip(self) -> Path:
        return self.bin / 'pip'

    @property
    def environ(self) -> dict[str, str]:
        """The environment of a shell with this virtualenv activated."""
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ('PYTHONPATH', 'VIRTUAL_ENV', 'PYTHONHOME')
        }
        env['PATH'] = f'{self.bin}{os.pathsep}{env.get("PATH", "")}'
        env['VIRTUAL_ENV'] = str(self.root)
        return env

    def run(
        self, *argv: str | Path, cwd: Path, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(arg) for arg in argv],
            cwd=cwd,
            env=self.environ,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def must(
        self, *argv: str | Path, cwd: Path, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        """:meth:`run`, failing the test if the command fails."""
        result = self.run(*argv, cwd=cwd, timeout=timeout)
        assert result.returncode == 0, (
            f'{result.args} failed:\n{result.stdout}\n{result.stderr}'
        )
        return result
