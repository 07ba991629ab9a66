"""The cyclic garbage collector, tuned for a process that serves requests.

CPython collects its youngest generation whenever 700 (2000 since Python
3.13) more container objects were allocated than freed, and the older ones
every 10 collections of the one below.  A server with many requests in
flight (1000 clients awaiting a slow view, each request holding its
environ, WebOb objects and coroutine frames) fills the young generations
with objects that are still alive: every collection walks them again, moves
them up, and the full collections walk the whole loaded application too.
Measured on aiotao's worker serving 1000 concurrent ``/sleep`` requests:
18-20% of its CPU time went to the collector.

:func:`tune_for_serving`, called by the worker once the application is
loaded and started, just before it serves:

* :func:`gc.collect` then :func:`gc.freeze`: what the application loaded
  (modules, registry, templates) moves to the permanent generation and is
  never walked again (Instagram's approach for its forked workers);
* raises the first threshold from Python's default (700; 2000 on 3.13)
  to :data:`SERVING_THRESHOLD`.  The
  count is *net* allocations, so it falls back as requests finish and their
  objects are freed by reference counting; collections now run when cycles
  of garbage do pile up, not every few requests.  Measured: 2.5-3% of the
  CPU instead of 18-20%, with at most some 50 000 garbage objects waiting.
* collects on a clock as well (:class:`RegularCollection`): a full
  collection every :data:`COLLECT_INTERVAL` seconds on the worker's loop.
  The threshold counts *objects*, not bytes: a cycle of a few dozen
  objects can keep hundreds of KiB alive (a closed websocket's request,
  buffers and deflate state: aiohttp's protocol keeps a callback to its
  ``WebSocketResponse``, which keeps the request, which keeps the
  protocol).  Measured in the soak (:mod:`tests.reliability.test_soak`):
  with websockets opened and closed, some 300 such cycles (12,000
  objects) a worker every 12 seconds, the worker did not collect once in
  minutes, and RSS grew by 3 GiB an hour (1.2 GiB with HTTP, chat and
  game traffic beside); the older generations are worse, visited after 10
  and 100 young collections, so a cycle that was alive at a young
  collection (any session in flight) waited for hours.  A full collection
  walks only what was made since the freeze (some 3,000-5,000 objects in
  the soak's quiet moments): 6-9 ms every 5 seconds, 45 ms at worst on a
  busy machine; RSS then stays flat.

An application that set thresholds of its own (anything but Python's
default) keeps them::

    import gc
    gc.set_threshold(10_000, 10, 10)   # in the app factory: aiotao leaves it
"""

from __future__ import annotations

import asyncio
import gc
import sys

#: First-generation threshold while serving (Python's default is 700, 2000
#: since 3.13).
SERVING_THRESHOLD = 50_000
#: Python's own thresholds, by version: only these are replaced.  A
#: version not listed counts what it had when aiotao was imported (the
#: worker imports this module before it loads the application).
PYTHON_DEFAULT_THRESHOLDS: tuple[int, ...] = {
    (3, 11): (700, 10, 10),
    (3, 12): (700, 10, 10),
    (3, 13): (2000, 10, 10),
}.get(sys.version_info[:2], gc.get_threshold())
#: Seconds between the full collections made on the worker's clock
#: (``aiotao.gc_interval``): often enough that cycles of garbage never
#: pile up for long, seldom enough that the pause of a collection (some
#: milliseconds) touches a game's 20 Hz ticks once in hundreds.
COLLECT_INTERVAL = 30.0


class RegularCollection:
    """A full collection every ``interval`` seconds on ``loop``, until :meth:`stop`.

    A timer, not a task: it runs between callbacks of the loop (so the
    finalizers it runs are on the loop's thread), and it is not one of
    the loop's tasks.

    >>> import subprocess, sys
    >>> code = '''
    ... import asyncio, gc
    ... from aiotao.serving.garbage import RegularCollection
    ... async def main():
    ...     collections = gc.get_stats()[2]['collections']
    ...     regular = RegularCollection(asyncio.get_running_loop(), 0.01)
    ...     await asyncio.sleep(0.1)
    ...     regular.stop()
    ...     print(gc.get_stats()[2]['collections'] > collections)
    ... asyncio.run(main())
    ... '''
    >>> subprocess.run([sys.executable, '-c', code], capture_output=True,
    ...                text=True, check=True).stdout
    'True\\n'
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, interval: float) -> None:
        self.loop = loop
        self.interval = interval
        self._timer: asyncio.TimerHandle | None = loop.call_later(
            interval, self._collect
        )

    def _collect(self) -> None:
        gc.collect()
        if self._timer is not None:
            self._timer = self.loop.call_later(self.interval, self._collect)

    def stop(self) -> None:
        """No more collections from this clock."""
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()


def tune_for_serving(interval: float | None = COLLECT_INTERVAL) -> bool:
    """Freeze what is loaded, raise the collection threshold, collect on a clock.

    Returns ``True`` if the thresholds were changed, ``False`` if the
    application had set its own (they are left alone, and there is no
    clock; the freeze happens either way).  Called on a running event
    loop, that loop gets a :class:`RegularCollection` every ``interval``
    seconds (``None``: no clock; without a loop, a script, only the
    thresholds change).

    >>> import gc, subprocess, sys
    >>> code = ('import gc; from aiotao.serving.garbage import tune_for_serving; '
    ...         'print(tune_for_serving(), gc.get_threshold())')
    >>> subprocess.run([sys.executable, '-c', code], capture_output=True,
    ...                text=True, check=True).stdout
    'True (50000, 10, 10)\\n'
    """
    gc.collect()
    gc.freeze()
    thresholds = gc.get_threshold()
    if thresholds != PYTHON_DEFAULT_THRESHOLDS:
        return False
    gc.set_threshold(SERVING_THRESHOLD, *thresholds[1:])
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return True
    if interval is not None:
        RegularCollection(loop, interval)
    return True
