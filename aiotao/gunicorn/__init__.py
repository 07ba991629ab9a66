"""Moved to :mod:`aiotao.serving.gunicorn`; kept so existing configs keep working.

``worker_class = aiotao.gunicorn.Worker`` (and ``-k aiotao.gunicorn.Worker``)
in ini files and ``gunicorn.conf.py`` go on naming aiotao's worker.
"""

from aiotao.serving.gunicorn import (
    AsyncGunicornUVLoopWorker,
    AsyncGunicornWorker,
    UVLoopWorker,
    Worker,
)

__all__ = [
    'AsyncGunicornUVLoopWorker',
    'AsyncGunicornWorker',
    'UVLoopWorker',
    'Worker',
]
