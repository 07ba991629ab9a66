"""View mappers: how aiotao calls each kind of view.

See :mod:`aiotao.mappers.http` for the policy of each mapper.
"""

from aiotao.mappers.detection import is_async_callable, is_coroutine_view
from aiotao.mappers.http import (
    CoroutineMapper,
    CoroutineOrExecutorMapper,
    ExecutorMapper,
)
from aiotao.mappers.websocket import WebsocketMapper

__all__ = [
    'CoroutineMapper',
    'CoroutineOrExecutorMapper',
    'ExecutorMapper',
    'WebsocketMapper',
    'is_async_callable',
    'is_coroutine_view',
]
