"""Synchronous code waiting for coroutines: the bridge back to the loop.

Synchronous code meets aiotao's coroutines in three places:

* in a request's thread (:mod:`aiotao.threads`): a sync tween calls its
  async handler, a sync view renders an async one
  (``render_view_to_response``), a sync view calls
  ``request.invoke_subrequest``.  The coroutine runs on the request's loop
  and the thread serves the request's other synchronous work while it
  waits;
* in a thread that serves no request of aiotao's yet: a plain WSGI
  server's thread calling the app, a unit test calling
  ``render_view_to_response``, a script.  The coroutine runs on
  aiotao's *background loop* (one per process, in a daemon thread), and
  the calling thread becomes the thread of whatever request it starts, so
  that request's synchronous parts run in the server's own thread, as
  under Pyramid;
* on the thread of a running loop: waiting there would stop the loop that
  must run the coroutine, so :func:`wait_for` raises :exc:`RuntimeError`
  naming the ``async`` counterpart to ``await`` instead.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import contextvars
import os
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any, TypeVar

from aiotao.awaitables import close_if_coroutine
from aiotao.threads import (
    Lane,
    RequestThread,
    current_lane,
    current_request_thread,
    run_in_request_thread,
)

T = TypeVar('T')


def wait_for(
    make_coroutine: Callable[[], Coroutine[Any, Any, T]], async_name: str
) -> T:
    """Run a coroutine for synchronous code and wait for its result.

    ``make_coroutine`` is called only once it is known that the coroutine
    can run (no coroutine is left un-awaited when the call is refused).
    ``async_name`` is what the caller should ``await`` instead when this is
    called on a loop's thread.
    """
    if on_loop_thread():
        raise RuntimeError(
            f'this call waits for a coroutine, and an event loop is running '
            f'in this thread, so it would wait for ever: use '
            f'"await {async_name}" instead'
        )
    thread = current_request_thread()
    if thread is not None and thread.loop is not None and not thread.loop.is_closed():
        future = asyncio.run_coroutine_threadsafe(make_coroutine(), thread.loop)
        return thread.wait_for(future)
    return _wait_on_background_loop(make_coroutine)


def wait_for_awaitable(awaitable: Awaitable[T], hint: str) -> T:
    """:func:`wait_for` an awaitable that exists already (an async view's result).

    On a loop's thread the awaitable is closed and :exc:`RuntimeError` says
    ``hint``.
    """
    if on_loop_thread():
        close_if_coroutine(awaitable)
        raise RuntimeError(
            f'{hint}: a synchronous call cannot wait for it on the thread of '
            f'the running event loop'
        )
    return wait_for(lambda: _awaited(awaitable), 'it')


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable


def on_loop_thread() -> bool:
    """``True`` if an event loop runs in the calling thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _wait_on_background_loop(
    make_coroutine: Callable[[], Coroutine[Any, Any, T]],
) -> T:
    with serving_requests() as thread:
        assert thread.loop is not None
        future = asyncio.run_coroutine_threadsafe(make_coroutine(), thread.loop)
        return thread.wait_for(future)


@contextlib.contextmanager
def serving_requests() -> Iterator[RequestThread]:
    """Make the calling thread the thread of the requests it serves.

    For a thread that is not a request's thread already (a WSGI server's
    thread): its coroutines run on the :func:`background_loop`, and the
    synchronous parts of the requests it starts come back to it.  In a
    request's thread this changes nothing.
    """
    thread = current_request_thread()
    if thread is not None and thread.loop is not None:
        yield thread
        return
    thread = RequestThread()
    with thread.serve_while_waiting(background_loop()):
        # tasks started from here copy this context: their requests find
        # this thread as their lane
        token = current_lane.set(Lane.of_thread(thread))
        try:
            yield thread
        finally:
            current_lane.reset(token)


def run_in_helper_thread(func: Callable[..., T], /, *args: Any) -> T:
    """Call ``func(*args)`` in a new thread and wait for it.

    For synchronous entry points (a WSGI app) called on a loop's thread: a
    test calling WebTest in an ``async def`` test.  That loop is blocked
    meanwhile, as any blocking call blocks it.
    """
    outcome: dict[str, Any] = {}
    context = contextvars.copy_context()

    def target() -> None:
        try:
            outcome['result'] = context.run(func, *args)
        except BaseException as exc:  # handed to the caller below
            outcome['error'] = exc

    thread = threading.Thread(target=target, name='aiotao-sync-call')
    thread.start()
    thread.join()
    if 'error' in outcome:
        raise outcome['error']
    return outcome['result']  # type: ignore[no-any-return]


async def to_thread(func: Callable[..., T], /, *args: Any) -> T:
    """Run blocking ``func(*args)`` in the request's thread; await its result.

    Like :func:`asyncio.to_thread`, but the thread is the request's own
    (:mod:`aiotao.threads`): ``get_current_request()`` and the thread-local
    state of the request's sync tweens are there, and ``func`` may wait for
    coroutines with :func:`wait_for`::

        async def report(request):
            return {'pdf': await to_thread(render_pdf_blocking, request.matchdict['id'])}
    """
    return await run_in_request_thread(func, *args)


def request_loop() -> asyncio.AbstractEventLoop | None:
    """The loop of the request whose synchronous code runs in this thread.

    ``None`` in a thread that serves no request.  Code that needs the
    request's loop from a sync view (a client bound to that loop) uses it.
    """
    thread = current_request_thread()
    return None if thread is None else thread.loop


class BackgroundLoop:
    """An event loop in a daemon thread, made on first use, remade after fork."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0

    def get(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid() or self._loop.is_closed():
                self._loop = self._start()
                self._pid = os.getpid()
            return self._loop

    def _start(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.new_event_loop()
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(started.set)
            loop.run_forever()

        threading.Thread(target=run, name=self.name, daemon=True).start()
        started.wait()
        return loop

    def stop(self) -> None:
        """Stop the loop (at exit); a later :meth:`get` starts a new one."""
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is not None and self._pid == os.getpid() and loop.is_running():
            loop.call_soon_threadsafe(loop.stop)


# One per process, as a server has one loop per worker: clients bound to a
# loop (PyMongo's) are shared by every WSGI thread and by aiotao.testing.run.
_background = BackgroundLoop('aiotao-background-loop')
atexit.register(_background.stop)


def background_loop() -> asyncio.AbstractEventLoop:
    """The loop that serves synchronous callers that have none (WSGI servers, tests)."""
    return _background.get()
