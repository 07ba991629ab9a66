"""aiotao's gunicorn worker; ``worker_class = aiotao.serving.gunicorn.Worker``.

See :mod:`aiotao.serving.gunicorn.worker`.  In ``gunicorn.conf.py``::

    worker_class = 'aiotao.serving.gunicorn.Worker'

or in an ini's ``[server:main]`` section, served by ``pserve``::

    [server:main]
    use = egg:gunicorn#main
    worker_class = aiotao.serving.gunicorn.Worker
"""

from aiotao.serving.gunicorn.worker import (
    AsyncGunicornUVLoopWorker,
    AsyncGunicornWorker,
)

#: The short name for ``worker_class``.
Worker = AsyncGunicornWorker
UVLoopWorker = AsyncGunicornUVLoopWorker

__all__ = [
    'AsyncGunicornUVLoopWorker',
    'AsyncGunicornWorker',
    'UVLoopWorker',
    'Worker',
]
