"""The lowest gunicorn aiotao allows has every gunicorn feature the docs use.

gunicorn documents the version that added each setting (``.. versionadded::``
in the setting's description); the docs' ``[server:main]`` keys and
``gunicorn`` options, and the worker classes they name, must all exist in
the lowest version ``pyproject.toml`` allows, or a user who has it gets
an error the docs did not prepare them for.
"""

from __future__ import annotations

import re
import tomllib

from gunicorn.config import KNOWN_SETTINGS

from tests.docs.rst_examples import REPO, pages, read_examples
from tests.docs.test_docs_examples import commands, read_ini

#: Worker classes gunicorn gained after its settings: the asgi worker came
#: with the asgi_* settings.
WORKERS_ADDED = {'asgi': 'asgi_loop'}


def version(text: str) -> tuple[int, ...]:
    """``'24'`` -> ``(24, 0, 0)``: comparable with ``'24.0.0'``."""
    parts = [int(part) for part in re.findall(r'\d+', text)[:3]]
    return tuple(parts + [0] * (3 - len(parts)))


def lowest_allowed(package: str) -> tuple[int, ...]:
    project = tomllib.loads((REPO / 'pyproject.toml').read_text())['project']
    for requirement in project['dependencies']:
        match = re.fullmatch(rf'{package}>=([\d.]+)(?:,.*)?', requirement)
        if match:
            return version(match.group(1))
    raise AssertionError(f'pyproject.toml sets no lower bound for {package}')


def added_in() -> dict[str, tuple[int, ...]]:
    """gunicorn setting name (and each of its options) -> version that added it."""
    added = {}
    for setting in KNOWN_SETTINGS:
        match = re.search(r'versionadded:: ([\d.]+)', setting.desc or '')
        since = version(match.group(1)) if match else (0, 0, 0)
        added[setting.name] = since
        for option in setting.cli or []:
            added[option] = since
    return added


def gunicorn_features_in_the_docs() -> dict[str, str]:
    """Setting names and options the docs use -> where."""
    used: dict[str, str] = {}
    for page in [*pages(), 'tutorial.rst']:
        for example in read_examples(page):
            if example.language == 'ini' and '[server:main]' in example.text:
                for key, _ in read_ini(example).items('server:main'):
                    used.setdefault(key, example.where)
            elif example.language == 'console':
                for argv in commands(example):
                    if argv[0] != 'gunicorn':
                        continue
                    for n, arg in enumerate(argv):
                        if arg.startswith('-'):
                            used.setdefault(arg.split('=', 1)[0], example.where)
                        if arg in ('-k', '--worker-class') and n + 1 < len(argv):
                            worker = WORKERS_ADDED.get(argv[n + 1])
                            if worker:
                                used.setdefault(worker, example.where)
    return used


def test_the_docs_use_no_gunicorn_feature_newer_than_the_lowest_allowed() -> None:
    lowest = lowest_allowed('gunicorn')
    added = added_in()
    used = gunicorn_features_in_the_docs()
    assert 'asgi_loop' in used and 'worker_class' in used  # the check sees them
    too_new = {
        name: f'{where} (gunicorn {".".join(map(str, added[name]))})'
        for name, where in used.items()
        if added.get(name, (0, 0, 0)) > lowest
    }
    assert not too_new, (
        f'pyproject.toml allows gunicorn {".".join(map(str, lowest))}, but the '
        f'docs use: {too_new}'
    )
