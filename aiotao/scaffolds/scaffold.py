"""What a scaffold is and how it turns into files."""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import jinja2

TEMPLATE_SUFFIX = '_tmpl'


class InvalidProjectName(ValueError):
    """The project or package name cannot be used; the message says why."""


@dataclass(frozen=True)
class ProjectNames:
    """The names a new project is known by.

    >>> ProjectNames.from_project('My-Shop').package
    'my_shop'
    """

    project: str
    package: str

    @classmethod
    def from_project(cls, project: str, package: str | None = None) -> ProjectNames:
        if package is None:
            package = re.sub(r'[\s.-]+', '_', project).lower()
        if not package.isidentifier() or not package.isascii():
            raise InvalidProjectName(
                f'{package!r} (from {project!r}) is not a valid Python package '
                f'name: it must start with a letter or an underscore and hold '
                f'only ASCII letters, digits and underscores.  Choose another '
                f'project name, or give one with --package-name.'
            )
        if keyword.iskeyword(package):
            raise InvalidProjectName(
                f'{package!r} is a Python keyword and cannot name a package.'
            )
        return cls(project=project, package=package)


@dataclass(frozen=True)
class PlannedFile:
    """One file a scaffold will write."""

    source: Path
    target: Path  # relative to the output directory
    rendered: bool


class Scaffold:
    """A project template: a directory rendered into a new project.

    Subclasses set :attr:`summary` and :attr:`template_dir`; a scaffold that
    ``extends`` another lays that one's files down first and its own over
    them, and its ``_tmpl`` files may ``{% extends "base/NAME_tmpl" %}`` to
    fill the blocks of the base scaffold's file of that name.
    """

    summary: ClassVar[str] = ''
    template_dir: ClassVar[Path]
    extends: ClassVar[type[Scaffold] | None] = None
    #: Commands to run before the project is served (a development
    #: database...): ``pcreate`` shows them in its "Next" steps.
    before_serving: ClassVar[tuple[str, ...]] = ()

    def __init__(self, name: str) -> None:
        self.name = name

    def template_vars(self, names: ProjectNames) -> dict[str, Any]:
        """The variables ``_tmpl`` files see; override to add your own."""
        return {
            'project': names.project,
            'package': names.package,
            'scaffold': self.name,
        }

    def template_dirs(self) -> list[Path]:
        """Template directories, base scaffold first."""
        dirs = self.extends(self.name).template_dirs() if self.extends else []
        return [*dirs, self.template_dir]

    def plan(self, names: ProjectNames) -> list[PlannedFile]:
        """The files to write, later template directories winning."""
        planned: dict[Path, PlannedFile] = {}
        for template_dir in self.template_dirs():
            for source in sorted(_files_under(template_dir)):
                relative = source.relative_to(template_dir)
                parts = [_substitute_names(part, names) for part in relative.parts]
                rendered = parts[-1].endswith(TEMPLATE_SUFFIX)
                if rendered:
                    parts[-1] = parts[-1][: -len(TEMPLATE_SUFFIX)]
                target = Path(*parts)
                planned[target] = PlannedFile(source, target, rendered)
        return [planned[target] for target in sorted(planned)]

    def render(self, planned: PlannedFile, names: ProjectNames) -> bytes:
        """The content of one planned file."""
        if not planned.rendered:
            return planned.source.read_bytes()
        environment = jinja2.Environment(
            loader=self._base_loader(),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            autoescape=False,  # source files, not HTML
        )
        template = environment.from_string(planned.source.read_text('utf-8'))
        return template.render(self.template_vars(names)).encode('utf-8')

    def _base_loader(self) -> jinja2.BaseLoader:
        # A layered scaffold's template may {% extends "base/README.rst_tmpl" %}
        # and fill in the blocks of the scaffold it extends.
        base_dirs = self.extends(self.name).template_dirs() if self.extends else []
        return jinja2.PrefixLoader(
            {'base': jinja2.FileSystemLoader([str(d) for d in reversed(base_dirs)])}
        )


def _substitute_names(part: str, names: ProjectNames) -> str:
    return part.replace('+package+', names.package).replace('+project+', names.project)


def _files_under(directory: Path) -> Iterator[Path]:
    for path in directory.rglob('*'):
        if path.is_file() and '__pycache__' not in path.parts:
            yield path
