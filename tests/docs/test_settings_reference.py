"""docs/settings.rst lists every setting aiotao reads, and only those.

What aiotao reads is found by watching it (:mod:`tests.docs.settings_read`):
a setting added to the code without a line in the reference fails here,
and so does a line left behind for a setting that went away.
"""

from __future__ import annotations

import re

from tests.docs.rst_examples import DOCS
from tests.docs.settings_read import PREFIXES, settings_read

REFERENCE = DOCS / 'settings.rst'
#: The families documented with a placeholder: keys whose last part is free.
FAMILIES = ('mongo.option.', 'aiotao.schedule.')


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
