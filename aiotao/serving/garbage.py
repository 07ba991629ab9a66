"""The cyclic garbage collector, tuned for a process that serves requests.

CPython collects its youngest generation whenever 700 more container
objects were allocated than freed, and the older ones every 10 collections
of the one below.  A server with many requests in flight (1000 clients
awaiting a slow view, each request holding its environ, WebOb objects and
coroutine frames) fills the young generations with objects that are still
alive: every collection walks them again, moves them up, and the full
collections walk the whole loaded application too.  Measured on aiotao's
worker serving 1000 concurrent ``/sleep`` requests: 18-20% of its CPU time
went to the collector.

:func:`tune_for_serving`, called by the worker once the application is
loaded and started, just before it serves:

* :func:`gc.collect` then :func:`gc.freeze`: what the application loaded
  (modules, registry, templates) moves to the permanent generation and is
  never walked again (Instagram's approach for its forked workers);
* raises the first threshold from 700 to :data:`SERVING_THRESHOLD`.  The
  count is *net* allocations, so it falls back as requests finish and their
  objects are freed by reference counting; collections now run when cycles
  of garbage do pile up, not every few requests.  Measured: 2.5-3% of the
  CPU instead of 18-20%, with at most some 50 000 garbage objects waiting.

An application that set thresholds of its own (anything but Python's
default) keeps them::

    import gc
    gc.set_threshold(10_000, 10, 10)   # in the app factory: aiotao leaves it
"""

from __future__ import annotations

import gc

#: First-generation threshold while serving (Python's default is 700).
SERVING_THRESHOLD = 50_000
#: Python's own thresholds: only these are replaced.
PYTHON_DEFAULT_THRESHOLDS = (700, 10, 10)


def tune_for_serving() -> bool:
    """Freeze what is loaded and raise the collection threshold.

    Returns ``True`` if the thresholds were changed, ``False`` if the
    application had set its own (they are left alone; the freeze happens
    either way).

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
    return True
