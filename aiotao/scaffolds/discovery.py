"""Finding scaffolds: the ``pyramid.scaffold`` entry-point group."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points

from aiotao.scaffolds.scaffold import Scaffold

GROUP = 'pyramid.scaffold'


@dataclass(frozen=True)
class ScaffoldEntry:
    """A registered scaffold: loaded, or the reason it cannot be."""

    name: str
    scaffold: Scaffold | None
    problem: str = ''


def find_scaffolds() -> dict[str, ScaffoldEntry]:
    """Every scaffold registered in the ``pyramid.scaffold`` group, by name.

    Old Pyramid 1 scaffolds (``pyramid.scaffolds.Template`` subclasses, such
    as pyramid_jinja2's) cannot load on Pyramid 2: they are reported with the
    reason instead of breaking ``pcreate``.
    """
    found: dict[str, ScaffoldEntry] = {}
    for entry_point in entry_points(group=GROUP):
        try:
            factory = entry_point.load()
        except ImportError as exc:
            found[entry_point.name] = ScaffoldEntry(
                entry_point.name,
                None,
                f'cannot be loaded ({exc}); Pyramid 1 scaffolds need '
                f'pyramid.scaffolds, which Pyramid 2 removed',
            )
            continue
        if not (isinstance(factory, type) and issubclass(factory, Scaffold)):
            found[entry_point.name] = ScaffoldEntry(
                entry_point.name,
                None,
                f'{entry_point.value} is not an aiotao.scaffolds.Scaffold subclass',
            )
            continue
        found[entry_point.name] = ScaffoldEntry(
            entry_point.name, factory(entry_point.name)
        )
    return dict(sorted(found.items()))
