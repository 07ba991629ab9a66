"""The request pipeline written once, run on the loop or in the request's thread.

Pyramid's router is synchronous code that calls user code: subscribers,
root factories, traversal, views, callbacks.  In aiotao any of these may be
``async def``, and the synchronous ones belong in the request's thread
(:mod:`aiotao.threads`).  So the router's steps (see
:mod:`aiotao.router`, :mod:`aiotao.traversal`) are generators that do not
call user code themselves: they ``yield`` what must be called (a
:class:`Call`, or a :class:`~aiotao.view.CallView` for a view) and get its result back — or its
exception, thrown in where the call was, so a ``try``/``except`` around
the ``yield`` works as around a call.  Two drivers run them:

* :func:`run_on_loop`, on the event loop: an ``async def`` callable is
  called there and awaited; a synchronous one runs in the request's thread
  once the request has one (a sync tween gave it one), on the loop before
  that (a sync view always gets one);
* :func:`run_in_thread`, in the request's thread: everything is called
  there, as in Pyramid, and an awaitable result is awaited on the loop
  while the thread waits (:func:`aiotao.sync.wait_for_awaitable`).

>>> def steps():
...     doubled = yield Call(lambda x: 2 * x, 21)
...     return doubled
>>> run_in_thread(steps())
42
"""

from __future__ import annotations

from collections.abc import Awaitable, Generator
from typing import Any, Protocol, TypeVar

from aiotao.awaitables import is_awaitable
from aiotao.mappers.detection import is_async_callable
from aiotao.sync import wait_for_awaitable
from aiotao.threads import current_lane

T = TypeVar('T')


class Call:
    """A step: call ``func(*args)`` (sync or async) and send back its result."""

    __slots__ = ('args', 'func')

    def __init__(self, func: Any, *args: Any) -> None:
        self.func = func
        self.args = args

    async def on_loop(self) -> Any:
        func = self.func
        lane = current_lane.get()
        if lane is not None and lane.has_thread and not is_async_callable(func):
            result = await lane.run(func, *self.args)
        else:
            result = func(*self.args)
        while is_awaitable(result):
            result = await result
        return result

    def in_thread(self) -> Any:
        result = self.func(*self.args)
        if is_awaitable(result):
            result = wait_for_awaitable(
                result, f'{self.func!r} is async, so call it with "await"'
            )
        return result


class Step(Protocol):
    """What steps yield: :class:`Call`, or :class:`aiotao.view.CallView`.

    ``on_loop`` returns the awaitable that does the step on the loop (the
    callee's own coroutine where it can: no frame of the step's own).
    """

    def on_loop(self) -> Awaitable[Any]: ...

    def in_thread(self) -> Any: ...


Steps = Generator[Step, Any, T]


async def run_on_loop(
    steps: Steps[T], value: Any = None, error: BaseException | None = None
) -> T:
    """Drive ``steps`` on the event loop.

    A :class:`Call` is done here rather than in a coroutine of its own: a
    request yields several, and each coroutine costs its frame.
    """
    while True:
        try:
            step = steps.send(value) if error is None else steps.throw(error)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        finally:
            error = None  # no reference cycle through the traceback
        try:
            if step.__class__ is Call:
                func = step.func  # type: ignore[attr-defined]
                lane = current_lane.get()
                if lane is not None and lane.has_thread and not is_async_callable(func):
                    value = await lane.run(func, *step.args)  # type: ignore[attr-defined]
                else:
                    value = func(*step.args)  # type: ignore[attr-defined]
                while is_awaitable(value):
                    value = await value
            else:
                value = await step.on_loop()
        except BaseException as exc:
            # thrown in where the step was yielded; a CancelledError too, so
            # the steps' own finally blocks (finished callbacks) still run
            value, error = None, exc


def run_in_thread(steps: Steps[T]) -> T:
    """Drive ``steps`` in the calling thread (the request's thread)."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = steps.send(value) if error is None else steps.throw(error)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        finally:
            error = None
        try:
            value = step.in_thread()
        except BaseException as exc:
            value, error = None, exc


def run_until_awaitable(steps: Steps[T]) -> T | Awaitable[T]:
    """Run ``steps`` here while every result is plain; then go on, awaitable.

    For APIs that are synchronous unless something is async (a traverser
    over plain resources returns a dict): the first awaitable result makes
    the rest an awaitable to run on the loop.
    """
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = steps.send(value) if error is None else steps.throw(error)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        finally:
            error = None
        if not isinstance(step, Call):
            return _step_then_drive(steps, step)
        try:
            value = step.func(*step.args)
        except BaseException as exc:
            value, error = None, exc
            continue
        if is_awaitable(value):
            return _await_then_drive(steps, value)


async def _await_then_drive(steps: Steps[T], awaitable: Awaitable[Any]) -> T:
    try:
        value = await awaitable
        while is_awaitable(value):
            value = await value
    except BaseException as exc:
        return await run_on_loop(steps, None, exc)
    return await run_on_loop(steps, value, None)


async def _step_then_drive(steps: Steps[T], step: Step) -> T:
    try:
        value = await step.on_loop()
    except BaseException as exc:
        return await run_on_loop(steps, None, exc)
    return await run_on_loop(steps, value, None)
