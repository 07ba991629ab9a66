"""The request's thread: where one request's synchronous code runs.

Pyramid code assumes that a request's synchronous work happens in one
thread, in order: pyramid_tm's default transaction manager is a
thread-local, a ZODB connection registers with the thread's manager when a
root factory opens it, a tween's ``finally`` cleans up what its view set
up.  aiotao serves many requests on one event loop, so no request owns the
loop's thread.  Instead each request that has synchronous work (a sync
tween, a sync view, a sync exception view...) borrows **one** thread from a
:class:`ThreadPool` when its first synchronous part is reached, keeps it
until it ends, and every synchronous part of the request runs there, in the
order the pipeline reaches it.  That thread is the request's :class:`Lane`.

Synchronous code that waits for async code (a sync tween calling its async
handler) does not simply block its thread: :meth:`RequestThread.wait_for`
keeps serving the request's own synchronous work while it waits, so a sync
view below an async tween below a sync tween runs in the tween's thread.
(asgiref's ``CurrentThreadExecutor`` is the model.)

Rules of this module:

* work given to a lane runs in a copy of the caller's :mod:`contextvars`
  context, so ``get_current_request()`` is the request's there;
* a lane's thread goes back to the pool only when the work already given
  to it has finished: a request cancelled while its sync view runs (the
  client left) does not lend a busy thread to another request;
* the pool is bounded; a request that needs a thread when all are lent
  waits for one (as gthread's requests wait for a thread).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import queue
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future as ThreadFuture
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar('T')

#: How long an idle pool thread waits for work before it ends.
IDLE_SECONDS = 60.0


class _Signal:
    """A marker put in a thread's inbox; only its identity matters."""

    __slots__ = ('name',)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f'<{self.name}>'


_WAKE = _Signal('wake: a future this thread waits for is done')
_RELEASE = _Signal('release: the request ended; back to the pool when idle')


class _Work:
    """A call given to a request's thread, and where its outcome goes."""

    __slots__ = ('args', 'context', 'func', 'future', 'loop')

    def __init__(
        self,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        context: contextvars.Context,
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[Any],
    ) -> None:
        self.func = func
        self.args = args
        self.context = context
        self.loop = loop
        self.future = future

    def run(self) -> None:
        try:
            result = self.context.run(self.func, *self.args)
        except BaseException as exc:
            self._report(_set_exception, exc)
        else:
            self._report(_set_result, result)

    def _report(self, setter: Callable[[Any, Any], None], value: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(setter, self.future, value)
        except RuntimeError:
            # the loop was closed meanwhile (the server is gone): nobody waits
            pass


def _set_result(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _set_exception(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


_current = threading.local()


def current_request_thread() -> RequestThread | None:
    """The :class:`RequestThread` this OS thread is serving as, if any."""
    return getattr(_current, 'thread', None)


class RequestThread:
    """One OS thread's inbox of synchronous work for the request it serves.

    A pool thread runs :meth:`serve` for its whole life; a thread that
    is not the pool's (a WSGI server's thread) serves its inbox only while
    it waits in :meth:`wait_for`.
    """

    def __init__(self, pool: ThreadPool | None = None) -> None:
        self._inbox: queue.SimpleQueue[_Work | _Signal] = queue.SimpleQueue()
        self._pool = pool
        self._release_asked = False
        #: The loop the work being run came from: where this thread's
        #: synchronous code sends the coroutines it waits for.
        self.loop: asyncio.AbstractEventLoop | None = None

    def submit(self, work: _Work) -> None:
        self._inbox.put(work)

    def release(self) -> None:
        """Give the thread back to its pool once the work given to it is done."""
        self._inbox.put(_RELEASE)

    def wait_for(self, future: ThreadFuture[T]) -> T:
        """Wait for ``future`` in this thread, running the work it is sent meanwhile."""
        if not future.done():
            future.add_done_callback(lambda _: self._inbox.put(_WAKE))
            while not future.done():
                self._handle(self._inbox.get())
        return future.result()

    def serve_while_waiting(self, loop: asyncio.AbstractEventLoop) -> _Serving:
        """Let the calling thread (not a pool thread) serve as a request's thread.

        ::

            with thread.serve_while_waiting(loop):
                thread.wait_for(future)
        """
        return _Serving(self, loop)

    def _handle(self, item: _Work | _Signal) -> None:
        if isinstance(item, _Work):
            outer_loop = self.loop
            self.loop = item.loop
            try:
                item.run()
            finally:
                self.loop = outer_loop
        elif item is _RELEASE:
            self._release_asked = True

    def serve(self) -> None:
        """The pool thread's life: run work until idle for :data:`IDLE_SECONDS`."""
        pool = self._pool
        assert pool is not None
        _current.thread = self
        try:
            while True:
                try:
                    item = self._inbox.get(timeout=IDLE_SECONDS)
                except queue.Empty:
                    if pool.retire(self):
                        return
                    continue
                self._handle(item)
                if self._release_asked:
                    self._release_asked = False
                    pool.put_back(self)
        finally:
            _current.thread = None


class _Serving:
    """Context manager of :meth:`RequestThread.serve_while_waiting`."""

    def __init__(self, thread: RequestThread, loop: asyncio.AbstractEventLoop) -> None:
        self.thread = thread
        self.loop = loop
        self._outer: RequestThread | None = None

    def __enter__(self) -> RequestThread:
        self._outer = current_request_thread()
        _current.thread = self.thread
        self.thread.loop = self.loop
        return self.thread

    def __exit__(self, *exc_info: object) -> None:
        _current.thread = self._outer


class ThreadPool:
    """At most ``size`` threads, each lent to one request at a time.

    Threads start on demand and end after :data:`IDLE_SECONDS` unused.
    Thread-safe: requests on several loops may share a pool.
    """

    def __init__(self, size: int, name: str = 'aiotao-request') -> None:
        if size < 1:
            raise ValueError(f'a thread pool needs at least one thread, not {size}')
        self.size = size
        self.name = name
        self._lock = threading.Lock()
        self._idle: list[RequestThread] = []
        self._started = 0
        self._waiters: deque[
            tuple[asyncio.AbstractEventLoop, asyncio.Future[RequestThread]]
        ] = deque()

    def __repr__(self) -> str:
        return f'<ThreadPool {self.name} {self._started}/{self.size} threads>'

    async def acquire(self) -> RequestThread:
        """A thread of the pool for the caller alone; wait if all are lent."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._idle:
                return self._idle.pop()
            if self._started < self.size:
                self._started += 1
                return self._start_thread()
            waiter: asyncio.Future[RequestThread] = loop.create_future()
            self._waiters.append((loop, waiter))
        try:
            return await waiter
        except asyncio.CancelledError:
            with self._lock:
                try:
                    self._waiters.remove((loop, waiter))
                except ValueError:
                    pass
            if waiter.done() and not waiter.cancelled():
                # handed over just as we were cancelled: pass it on
                self.put_back(waiter.result())
            raise

    def _start_thread(self) -> RequestThread:
        thread = RequestThread(self)
        threading.Thread(
            target=thread.serve,
            name=f'{self.name}-{self._started}',
            daemon=True,
        ).start()
        return thread

    def put_back(self, thread: RequestThread) -> None:
        """Lend ``thread`` to the longest waiter, or keep it idle."""
        with self._lock:
            while self._waiters:
                loop, waiter = self._waiters.popleft()
                try:
                    loop.call_soon_threadsafe(_hand_over, self, waiter, thread)
                except RuntimeError:
                    continue  # that waiter's loop is closed
                return
            self._idle.append(thread)

    def retire(self, thread: RequestThread) -> bool:
        """Called by an idle thread that timed out: may it end?"""
        with self._lock:
            if thread not in self._idle:
                return False  # lent meanwhile: work is on its way
            self._idle.remove(thread)
            self._started -= 1
            return True


def _hand_over(
    pool: ThreadPool, waiter: asyncio.Future[RequestThread], thread: RequestThread
) -> None:
    if waiter.done():
        pool.put_back(thread)  # the waiter gave up
    else:
        waiter.set_result(thread)


class Lane:
    """The one thread a request's synchronous parts run in, borrowed on first use.

    >>> async def main():
    ...     lane = Lane(ThreadPool(2))
    ...     try:
    ...         first = await lane.run(threading.get_ident)
    ...         second = await lane.run(threading.get_ident)
    ...     finally:
    ...         lane.release()
    ...     return first == second != threading.get_ident()
    >>> asyncio.run(main())
    True
    """

    __slots__ = ('_acquiring', '_pool', '_thread')

    def __init__(
        self, pool: ThreadPool | None, thread: RequestThread | None = None
    ) -> None:
        self._pool = pool
        self._thread = thread
        self._acquiring: asyncio.Future[RequestThread] | None = None

    @classmethod
    def of_thread(cls, thread: RequestThread) -> Lane:
        """A lane whose work runs in ``thread`` (a thread waiting in ``wait_for``)."""
        return cls(None, thread)

    @property
    def has_thread(self) -> bool:
        """``True`` once the request's synchronous code has a thread."""
        return self._thread is not None

    async def run(self, func: Callable[..., T], /, *args: Any) -> T:
        """Run ``func(*args)`` in the request's thread and return its result."""
        thread = self._thread or await self._borrow()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        thread.submit(_Work(func, args, contextvars.copy_context(), loop, future))
        return await future

    async def _borrow(self) -> RequestThread:
        if self._acquiring is None:
            # two tasks of one request may reach their first sync part
            # at once: they share the one thread
            assert self._pool is not None
            self._acquiring = asyncio.ensure_future(self._pool.acquire())
        thread = await asyncio.shield(self._acquiring)
        self._thread = thread
        return thread

    def release(self) -> None:
        """The request ended: its thread goes back to the pool when idle."""
        acquiring, self._acquiring = self._acquiring, None
        thread, self._thread = self._thread, None
        if self._pool is None:
            return  # not the pool's thread: nothing to give back
        if thread is not None:
            thread.release()
        elif acquiring is not None:
            # still waiting for a thread: give it back when it comes
            acquiring.add_done_callback(_release_when_acquired)


def _release_when_acquired(acquiring: asyncio.Future[RequestThread]) -> None:
    if not acquiring.cancelled() and acquiring.exception() is None:
        acquiring.result().release()


#: The lane of the request being served in this context.
current_lane: contextvars.ContextVar[Lane | None] = contextvars.ContextVar(
    'aiotao.current_lane', default=None
)


async def run_in_request_thread(func: Callable[..., T], /, *args: Any) -> T:
    """Run ``func(*args)`` in the current request's thread.

    Outside a request (a test awaiting a view directly) the call gets a
    thread of its own.
    """
    lane = current_lane.get()
    if lane is not None:
        return await lane.run(func, *args)
    lane = Lane(_spare_pool())
    try:
        return await lane.run(func, *args)
    finally:
        lane.release()


_spare: ThreadPool | None = None
_spare_lock = threading.Lock()


def _spare_pool() -> ThreadPool:
    """The pool of calls made outside any request (tests, scripts)."""
    global _spare
    with _spare_lock:
        if _spare is None:
            _spare = ThreadPool(8, name='aiotao-spare')
        return _spare
