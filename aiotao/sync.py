"""Running the async pipeline from synchronous code.

Two kinds of synchronous caller meet aiotao's coroutines:

* a plain WSGI server (waitress under ``pserve``) calling the app: it gets a
  private event loop per thread, see :func:`run_in_thread_loop`;
* a legacy sync view or adapted sync tween, which aiotao runs in a worker
  thread while the request's loop goes on serving others: it calls back into
  that loop, see :func:`call_soon_from_thread`.

Blocking the thread of a running loop would deadlock it, so doing that is an
error that names the ``async`` counterpart to use instead.
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar('T')

#: The loop serving the current request; copied into worker threads with
#: the rest of the context, so they know where to send coroutines.
request_loop: contextvars.ContextVar[asyncio.AbstractEventLoop | None] = (
    contextvars.ContextVar('aiotao.request_loop', default=None)
)

_thread_loops = threading.local()
_all_thread_loops: list[asyncio.AbstractEventLoop] = []
_all_thread_loops_lock = threading.Lock()


def _loop_for_this_thread() -> asyncio.AbstractEventLoop:
    loop: asyncio.AbstractEventLoop | None = getattr(_thread_loops, 'loop', None)
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        _thread_loops.loop = loop
        with _all_thread_loops_lock:
            _all_thread_loops.append(loop)
    return loop


@atexit.register
def _close_thread_loops() -> None:
    with _all_thread_loops_lock:
        for loop in _all_thread_loops:
            if not loop.is_running() and not loop.is_closed():
                loop.close()
        _all_thread_loops.clear()


def run_in_thread_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion on this thread's private loop.

    This is how a WSGI server's worker thread serves async views.  Called
    from inside a running loop it runs the coroutine on a helper thread
    instead, since a loop cannot be re-entered.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _loop_for_this_thread().run_until_complete(coroutine)
    return _run_in_helper_thread(coroutine)


def _run_in_helper_thread(coroutine: Coroutine[Any, Any, T]) -> T:
    outcome: dict[str, Any] = {}
    context = contextvars.copy_context()

    def target() -> None:
        try:
            outcome['result'] = context.run(run_in_thread_loop, coroutine)
        except BaseException as exc:  # handed to the caller below
            outcome['error'] = exc

    thread = threading.Thread(target=target, name='aiotao-sync-bridge')
    thread.start()
    thread.join()
    if 'error' in outcome:
        raise outcome['error']
    return outcome['result']  # type: ignore[no-any-return]


async def to_thread(func: Callable[..., T], /, *args: Any) -> T:
    """:func:`asyncio.to_thread` that lets ``func`` call back into this loop.

    The worker thread runs in a copy of the current context, with
    :data:`request_loop` set, so :func:`call_soon_from_thread` and
    ``get_current_request()`` work there.
    """
    request_loop.set(asyncio.get_running_loop())
    return await asyncio.to_thread(func, *args)


def call_soon_from_thread(
    make_coroutine: Callable[[], Coroutine[Any, Any, T]], async_name: str
) -> T:
    """Run a coroutine for sync code and wait for its result.

    From a worker thread of a request (sync view, adapted tween) the
    coroutine runs on the request's loop.  With no loop at all it runs on a
    private one.  On the loop's own thread it cannot wait without
    deadlocking, so it raises :class:`RuntimeError` naming ``async_name``.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError(
            f'this call blocks, and the event loop is running in this '
            f'thread: use "await {async_name}" instead'
        )
    loop = request_loop.get()
    if loop is not None and loop.is_running():
        future = asyncio.run_coroutine_threadsafe(make_coroutine(), loop)
        return future.result()
    return run_in_thread_loop(make_coroutine())
