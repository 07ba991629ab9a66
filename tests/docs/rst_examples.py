"""The code examples of the documentation, read from its ``.rst`` files.

Every ``.. code-block::`` of a page is an :class:`Example`.  What the tests
do with one depends on its language and on an optional marker, an rst
comment on the line before the directive (invisible in the built pages)::

    .. docs-test: skip shows a fragment of a larger module
    .. code-block:: python

Markers:

``skip REASON``
    a Python block that is not run (it is still compiled, so it is valid
    Python); the reason is required;
``aiopyramid``
    aiopyramid code, shown as the "before" of a migration: it cannot run
    on Python 3.11, so it is compiled and every ``aiopyramid`` name it
    imports must be mapped in the migration guide;
``module DOTTED.NAME``
    a Python block that is the file of that module (``myapp/tasks.py``):
    it runs as that module, so that the page's ini blocks can name it;
``pytest``
    a test module of a project: pytest runs it in a directory of its own,
    with aiotao's plugin, and every test in it must pass.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / 'docs'

_DIRECTIVE = re.compile(r'^(\s*)\.\. code-block:: ?(\S*)\s*$')
_MARKER = re.compile(r'^\s*\.\. docs-test: (\S+) ?(.*)$')
MARKERS = frozenset({'skip', 'aiopyramid', 'module', 'pytest'})


@dataclass(frozen=True)
class Example:
    """One code block of a page."""

    page: str
    line: int  # of the directive, 1-based
    language: str
    marker: str | None
    argument: str
    text: str

    @property
    def where(self) -> str:
        return f'{(DOCS / self.page).resolve().relative_to(REPO)}:{self.line}'


def pages() -> list[str]:
    """The narrative pages whose examples are tested (relative to docs/).

    ``tutorial.rst`` has its own test (``test_tutorial.py``); the API pages
    hold no examples of their own (their docstrings' are doctests).  The
    README, the first page a newcomer reads, is one of them.
    """
    narrative = sorted(
        str(path.relative_to(DOCS))
        for path in DOCS.glob('*.rst')
        if path.name != 'tutorial.rst'
    )
    return [*narrative, '../README.rst']


def read_examples(page: str) -> list[Example]:
    lines = (DOCS / page).read_text().splitlines()
    _check_markers(page, lines)
    examples = []
    for index, line in enumerate(lines):
        match = _DIRECTIVE.match(line)
        if match is None:
            continue
        indent = len(match.group(1))
        marker, argument = _marker_before(lines, index)
        i = index + 1
        while i < len(lines) and lines[i].strip().startswith(':'):
            i += 1  # the directive's options
        body = []
        while i < len(lines) and (
            not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent
        ):
            body.append(lines[i])
            i += 1
        text = textwrap.dedent('\n'.join(body)).strip('\n') + '\n'
        examples.append(
            Example(
                page, index + 1, match.group(2) or 'default', marker, argument, text
            )
        )
    return examples


def _check_markers(page: str, lines: list[str]) -> None:
    """A marker is followed by a code block: one elsewhere would be ignored."""
    for index, line in enumerate(lines):
        if _MARKER.match(line) is None:
            continue
        following = [later for later in lines[index + 1 :] if later.strip()][:1]
        if not following or _DIRECTIVE.match(following[0]) is None:
            raise ValueError(
                f'docs/{page}:{index + 1}: a docs-test marker must precede a code-block'
            )


def _marker_before(lines: list[str], index: int) -> tuple[str | None, str]:
    i = index - 1
    while i >= 0 and not lines[i].strip():
        i -= 1
    match = _MARKER.match(lines[i]) if i >= 0 else None
    if match is None:
        return None, ''
    marker, argument = match.group(1), match.group(2).strip()
    if marker not in MARKERS:
        raise ValueError(
            f'line {i + 1}: unknown docs-test marker {marker!r}; one of {sorted(MARKERS)}'
        )
    return marker, argument
