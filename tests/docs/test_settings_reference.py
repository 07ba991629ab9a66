"""docs/settings.rst lists every setting aiotao reads, and only those.

What aiotao reads is found by watching it (:mod:`tests.docs.settings_read`):
a setting added to the code without a line in the reference fails here,
and so does a line left behind for a setting that went away.
"""

from __future__ import annotations

import functools
import re
import subprocess
import sys

from tests.docs.rst_examples import DOCS, REPO
from tests.docs.settings_read import PREFIXES

REFERENCE = DOCS / 'settings.rst'
#: The families documented with a placeholder: keys whose last part is free.
FAMILIES = ('mongo.option.', 'aiotao.schedule.')


@functools.cache
def settings_read() -> frozenset[str]:
    """What aiotao reads, watched in an interpreter of its own.

    (Other tests remove the modules they imported from ``sys.modules``;
    configuring the game here after that would meet two of its classes.)
    """
    listed = subprocess.run(
        [sys.executable, '-m', 'tests.docs.settings_read'],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    return frozenset(listed.stdout.split())


def documented() -> set[str]:
    """The settings in the first column of the reference's tables."""
    rows = re.findall(r'^   \* - ``([^`]+)``$', REFERENCE.read_text(), re.MULTILINE)
    return {row for row in rows if row.startswith(PREFIXES)}


def test_every_setting_read_is_in_the_reference() -> None:
    read = {key for key in settings_read() if not key.startswith(FAMILIES)}
    missing = sorted(read - documented())
    assert not missing, f'docs/settings.rst does not document: {missing}'


def test_every_setting_in_the_reference_is_read() -> None:
    listed = documented()
    families = {key for key in listed if key.endswith('.NAME')}
    assert {f'{family}NAME' for family in FAMILIES} == families
    stale = sorted(listed - families - settings_read())
    assert not stale, (
        f'docs/settings.rst documents settings aiotao never reads: {stale}'
    )
    assert len(listed) >= 45
