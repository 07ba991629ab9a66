"""gunicorn settings from a Pyramid ini's ``[server:main]``, for ``gunicorn.conf.py``.

``gunicorn --paste development.ini`` reads ``./gunicorn.conf.py`` but not the
ini's ``[server:main]`` section, which only ``pserve`` reads.  A project's
``gunicorn.conf.py`` makes the two commands serve alike with::

    from aiotao.serving.gunicorn.conf import settings_from_paste_ini

    globals().update(settings_from_paste_ini())

The section is read as gunicorn's own ``pserve`` runner (``use =
egg:gunicorn#main``) reads it: ``host`` and ``port`` make ``bind``, every
other key is a gunicorn setting (``workers``, ``timeout``, ``worker_class``).
``worker_class`` defaults to aiotao's worker.  Flags on the command line
still win over all of it.
"""

from __future__ import annotations

import configparser
import os
import shlex
import sys
from collections.abc import Sequence
from typing import Any

#: The worker used when the ini does not name one.
DEFAULT_WORKER_CLASS = 'aiotao.serving.gunicorn.Worker'

# keys of [server:main] that are not gunicorn settings (or are turned into one)
_NOT_SETTINGS = frozenset({'use', 'host', 'port', 'config'})


def paste_ini(argv: Sequence[str]) -> str | None:
    """The ini a command line serves: ``--paste``/``--paster``, or pserve's.

    >>> paste_ini(['--paste', 'development.ini#main', '--workers', '2'])
    'development.ini'
    >>> paste_ini(['development.ini', '--reload']), paste_ini(['app:app'])
    ('development.ini', None)
    """
    found: str | None = None
    for index, arg in enumerate(argv):
        if arg in ('--paste', '--paster') and index + 1 < len(argv):
            found = argv[index + 1]
            break
        if arg.startswith(('--paste=', '--paster=')):
            found = arg.split('=', 1)[1]
            break
    else:
        found = next((arg for arg in argv if _is_ini(arg)), None)
    return found.split('#', 1)[0] if found else None


def _is_ini(arg: str) -> bool:
    return not arg.startswith('-') and arg.split('#', 1)[0].endswith('.ini')


def server_section(ini: str) -> dict[str, str]:
    """``[server:main]`` of ``ini`` (``%(here)s`` expanded), or ``{}``."""
    path = os.path.abspath(ini)
    parser = configparser.ConfigParser(
        defaults={'here': os.path.dirname(path), '__file__': path}
    )
    if not parser.read(path) or not parser.has_section('server:main'):
        return {}
    section = parser['server:main']
    return {key: section[key] for key in section if key not in parser.defaults()}


def settings_from_paste_ini(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """gunicorn settings for the ini on the command line (``sys.argv`` by default).

    Flags in ``GUNICORN_CMD_ARGS`` are looked at too.  Without an ini, only
    ``worker_class`` is set.
    """
    if argv is None:
        argv = [*sys.argv[1:], *shlex.split(os.environ.get('GUNICORN_CMD_ARGS', ''))]
    ini = paste_ini(argv)
    section = server_section(ini) if ini else {}
    settings: dict[str, Any] = {'worker_class': DEFAULT_WORKER_CLASS}
    host, port = section.get('host'), section.get('port')
    # as gunicorn's paste server runner does (which keeps the blanks)
    if host and port:
        settings['bind'] = [f'{host}:{port}']
    elif host:
        settings['bind'] = [address.strip() for address in host.split(',')]
    for key, value in section.items():
        if key not in _NOT_SETTINGS and key.isidentifier():
            settings[key] = value
    return settings
