"""Moved to :mod:`aiotao.serving.gunicorn.conf`; kept so existing configs keep working.

Projects' ``gunicorn.conf.py`` files say
``from aiotao.gunicorn.conf import settings_from_paste_ini``.
"""

from aiotao.serving.gunicorn.conf import (
    DEFAULT_WORKER_CLASS,
    paste_ini,
    server_section,
    settings_from_paste_ini,
)

__all__ = [
    'DEFAULT_WORKER_CLASS',
    'paste_ini',
    'server_section',
    'settings_from_paste_ini',
]
