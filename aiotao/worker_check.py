"""One line in the log when gunicorn serves the application on a worker that is not aiotao's.

gunicorn reads ``gunicorn.conf.py`` from the directory it is started in,
and nowhere else.  ``gunicorn --paste ../myproject/development.ini`` from
another directory therefore runs gunicorn's default ``sync`` worker,
silently: the application loads and answers, but its websocket views
answer 501, its ``async def`` views run one request at a time per thread,
and its scheduled tasks and ``[aiotao.server:NAME]`` servers never start.
This module makes that visible when the application loads::

    WARNING [aiotao.worker_check] aiotao: gunicorn serves this application
    on SyncWorker (gunicorn.workers.sync), not on aiotao's worker: websocket
    views answer 501, ... Start gunicorn with -k aiotao.serving.gunicorn.Worker, or
    from the directory of the project's gunicorn.conf.py ...

It looks for the gunicorn worker (or, with ``--preload``, the arbiter)
that is loading the application on the call stack, so it costs nothing
when gunicorn is not imported, and it is silent under aiotao's workers
(and subclasses), under ASGI workers (gunicorn's ``-k asgi``, uvicorn's),
and under any other server.  It speaks once per process.

>>> from gunicorn.workers.sync import SyncWorker
>>> print(worker_problem(SyncWorker))
aiotao: gunicorn serves this application on SyncWorker (gunicorn.workers.sync), not on aiotao's worker: ...
>>> from aiotao.serving.gunicorn.worker import AsyncGunicornWorker
>>> worker_problem(AsyncGunicornWorker) is None
True
"""

from __future__ import annotations

import logging
import sys
from types import FrameType

from pyramid.config import Configurator

__all__ = ['gunicorn_worker_class', 'includeme', 'worker_problem']

log = logging.getLogger(__name__)

#: Modules whose worker classes serve the application asynchronously.
ASYNC_WORKER_MODULES = (
    'aiotao.serving.gunicorn.',  # aiotao's workers
    'gunicorn.workers.gasgi',  # gunicorn -k asgi (an ASGI app: aiotao.serving.asgi)
    'uvicorn.',  # uvicorn's gunicorn workers (likewise)
)

_warned = False


def includeme(config: Configurator) -> None:
    """Warn, once per process, if a gunicorn worker other than aiotao's loads the app."""
    global _warned
    if _warned:
        return
    worker_class = gunicorn_worker_class()
    problem = worker_problem(worker_class) if worker_class is not None else None
    if problem is not None:
        _warned = True
        log.warning(problem)


def gunicorn_worker_class(frame: FrameType | None = None) -> type | None:
    """The class of the gunicorn worker loading the application, if gunicorn is.

    ``None`` outside gunicorn.  The application is loaded by the worker
    (``Worker.load_wsgi``), or by the arbiter with ``--preload``: either
    one is a caller of this function.
    """
    if 'gunicorn' not in sys.modules:
        return None
    from gunicorn.arbiter import Arbiter
    from gunicorn.workers.base import Worker

    frame = frame or sys._getframe(1)
    while frame is not None:
        caller = frame.f_locals.get('self')
        if isinstance(caller, Worker):
            return type(caller)
        if isinstance(caller, Arbiter):
            worker_class: type | None = getattr(caller, 'worker_class', None)
            return worker_class
        frame = frame.f_back
    return None


def worker_problem(worker_class: type) -> str | None:
    """What goes wrong on ``worker_class``, and the fix; ``None`` if nothing does."""
    modules = {f'{cls.__module__}.' for cls in worker_class.__mro__}
    if any(m.startswith(ASYNC_WORKER_MODULES) for m in modules):
        return None
    return (
        f'aiotao: gunicorn serves this application on {worker_class.__name__} '
        f"({worker_class.__module__}), not on aiotao's worker: websocket views "
        f'answer 501, async views run one request at a time per thread, and '
        f'scheduled tasks and [aiotao.server:*] servers do not start.  Start '
        f'gunicorn with -k aiotao.serving.gunicorn.Worker, or from the directory of '
        f"the project's gunicorn.conf.py (gunicorn reads ./gunicorn.conf.py only)."
    )
