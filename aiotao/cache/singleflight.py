"""Single-flight: concurrent callers of one key share one computation.

When fifty requests miss the same cache entry at once, the first starts the
computation as a task of its own and the other forty-nine await that task
instead of starting theirs.  Everyone gets its result, or its exception
(and then nothing is cached: the next caller starts afresh).

The computation runs in its own task, and callers await it through
:func:`asyncio.shield`: a caller that goes away (its client disconnected)
is cancelled alone, and the others still get the result.

Flights belong to an event loop, since a task cannot be awaited from
another; under a plain WSGI server each thread's loop has its own.

>>> async def main():
...     async def compute():
...         await asyncio.sleep(0.01)
...         return 42
...     return await asyncio.gather(*(run_once('key', compute) for _ in range(3)))
>>> asyncio.run(main())
[42, 42, 42]
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Coroutine, Hashable
from typing import Any, TypeVar

T = TypeVar('T')

_flights: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[Hashable, asyncio.Task[Any]]
] = weakref.WeakKeyDictionary()


async def run_once(key: Hashable, compute: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Await ``compute()``, or the call already in flight for ``key``."""
    loop = asyncio.get_running_loop()
    flights = _flights.setdefault(loop, {})
    task: asyncio.Task[T] | None = flights.get(key)
    if task is None:
        task = loop.create_task(compute())
        flights[key] = task
        task.add_done_callback(lambda done: _land(flights, key, done))
    return await asyncio.shield(task)


def _land(
    flights: dict[Hashable, asyncio.Task[Any]], key: Hashable, task: asyncio.Task[Any]
) -> None:
    if flights.get(key) is task:
        del flights[key]
    if not task.cancelled():
        # Retrieved here so that a failure nobody waited for any more (all
        # callers cancelled) is not reported as "never retrieved".
        task.exception()
