"""Moved to :mod:`aiotao.serving.gunicorn.worker`; kept so existing configs keep working.

``worker_class = aiotao.gunicorn.worker.AsyncGunicornWorker`` (the path
aiopyramid's users wrote) goes on naming aiotao's worker.
"""

from aiotao.serving.gunicorn.worker import (
    AsyncGunicornUVLoopWorker,
    AsyncGunicornWorker,
)

__all__ = ['AsyncGunicornUVLoopWorker', 'AsyncGunicornWorker']
