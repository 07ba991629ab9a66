"""``pcreate``: lay out a new project from a scaffold.

Pyramid 2 removed its ``pcreate``; aiotao ships one::

    pcreate -l                                  # list scaffolds
    pcreate -s aiotao_websocket myproject       # create ./myproject
    pcreate -s aiotao_starter --simulate demo   # show what would be written

Scaffolds come from the ``pyramid.scaffold`` entry-point group, so other
packages can add their own (see :mod:`aiotao.scaffolds`).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from aiotao.scaffolds import ProjectNames, Scaffold, find_scaffolds
from aiotao.scaffolds.scaffold import InvalidProjectName


class CreateError(Exception):
    """A refusal, with a message that says what to do instead."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='pcreate',
        description='Create a new project from one or more scaffolds.',
    )
    parser.add_argument(
        'output_directory', nargs='?', help='the project directory to create'
    )
    parser.add_argument(
        '-l', '--list', action='store_true', help='list the available scaffolds'
    )
    parser.add_argument(
        '-s',
        '--scaffold',
        action='append',
        default=[],
        metavar='SCAFFOLD',
        help='scaffold to use (repeat to layer several)',
    )
    parser.add_argument(
        '--package-name', help='the package name (default: from the project name)'
    )
    parser.add_argument(
        '--simulate',
        action='store_true',
        help='show what would be written, write nothing',
    )
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument(
        '--overwrite', action='store_true', help='overwrite files that exist'
    )
    existing.add_argument(
        '--interactive', action='store_true', help='ask before overwriting each file'
    )
    return parser


def list_scaffolds(out: TextIO) -> None:
    entries = find_scaffolds()
    out.write('Available scaffolds:\n')
    for entry in entries.values():
        if entry.scaffold is not None:
            out.write(f'  {entry.name:<24}{entry.scaffold.summary}\n')
    unavailable = [e for e in entries.values() if e.scaffold is None]
    if unavailable:
        out.write('Registered but unavailable:\n')
        for entry in unavailable:
            out.write(f'  {entry.name:<24}{entry.problem}\n')


def choose_scaffolds(names: Sequence[str]) -> list[Scaffold]:
    entries = find_scaffolds()
    chosen = []
    for name in names:
        entry = entries.get(name)
        if entry is None:
            known = ', '.join(n for n, e in entries.items() if e.scaffold) or 'none'
            raise CreateError(
                f'unknown scaffold {name!r}; available: {known} (pcreate -l)'
            )
        if entry.scaffold is None:
            raise CreateError(f'scaffold {name!r} {entry.problem}')
        chosen.append(entry.scaffold)
    return chosen


def check_names(output: Path, package_name: str | None) -> ProjectNames:
    try:
        names = ProjectNames.from_project(output.name, package_name)
    except InvalidProjectName as exc:
        raise CreateError(str(exc)) from None
    spec = importlib.util.find_spec(names.package)
    if spec is not None:
        where = spec.origin or ', '.join(spec.submodule_search_locations or [])
        raise CreateError(
            f'a package named {names.package!r} can already be imported here '
            f'({where}); a project of that name would shadow it or be '
            f'shadowed.  Choose another project name or --package-name.'
        )
    return names


def create(
    output: Path,
    scaffolds: Sequence[Scaffold],
    names: ProjectNames,
    *,
    simulate: bool,
    overwrite: bool,
    ask: Callable[[str], bool] | None,
    out: TextIO,
) -> None:
    if output.exists() and any(output.iterdir()) and not (overwrite or ask):
        raise CreateError(
            f'{output} already exists and is not empty; use --overwrite to '
            f'replace its files, or --interactive to be asked for each one'
        )
    for scaffold in scaffolds:
        for planned in scaffold.plan(names):
            target = output / planned.target
            content = scaffold.render(planned, names)
            if target.exists():
                if target.read_bytes() == content:
                    out.write(f'  identical  {target}\n')
                    continue
                if not overwrite and not (ask and ask(str(target))):
                    out.write(f'  skipped    {target}\n')
                    continue
                action = 'overwrite'
            else:
                action = 'create'
            out.write(f'  {action:<10} {target}\n')
            if not simulate:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
                target.chmod(planned.source.stat().st_mode & 0o777)


def ask_on_terminal(path: str) -> bool:
    answer = input(f'{path} differs from the scaffold; overwrite it? [y/N] ')
    return answer.strip().lower() in ('y', 'yes')


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list:
        list_scaffolds(out)
        return 0
    if not args.scaffold or not args.output_directory:
        parser.print_usage(sys.stderr)
        sys.stderr.write(
            'pcreate: give a scaffold (-s NAME) and an output directory; pcreate -l lists scaffolds\n'
        )
        return 2
    output = Path(args.output_directory).absolute()
    try:
        scaffolds = choose_scaffolds(args.scaffold)
        names = check_names(output, args.package_name)
        create(
            output,
            scaffolds,
            names,
            simulate=args.simulate,
            overwrite=args.overwrite,
            ask=ask_on_terminal if args.interactive else None,
            out=out,
        )
    except CreateError as exc:
        sys.stderr.write(f'pcreate: {exc}\n')
        return 2
    if args.simulate:
        out.write('Simulated: nothing was written.\n')
    else:
        out.write(f'\nCreated {names.project} (package {names.package}).  Next:\n')
        for command in next_steps(args.output_directory, scaffolds):
            out.write(f'    {command}\n')
    return 0


def next_steps(directory: str, scaffolds: Sequence[Scaffold]) -> list[str]:
    """The commands that take a new project to a running server.

    >>> next_steps('shop', [])
    ['cd shop', 'pip install -e ".[test]"', 'pytest', 'gunicorn --paste development.ini']
    """
    before_serving = [
        command for scaffold in scaffolds for command in scaffold.before_serving
    ]
    return [
        f'cd {directory}',
        # quoted: zsh would take the brackets for a pattern
        'pip install -e ".[test]"',
        'pytest',
        *dict.fromkeys(before_serving),
        'gunicorn --paste development.ini',
    ]


if __name__ == '__main__':
    sys.exit(main())
