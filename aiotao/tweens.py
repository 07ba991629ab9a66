"""The tween chain, rebuilt for the async pipeline.

:func:`build_tween_chain` reads the application's tweens from the registry
(explicit ``pyramid.tweens`` or the implicit, sorted ones) and wraps the
router's handler with each of them.  Every link of the chain can be entered
from the event loop or from the request's thread (:class:`Link`), and each
runs on its own side:

* a tween whose handler is ``async def`` runs natively on the loop;
* a synchronous tween (pyramid_tm, pyramid_debugtoolbar...) runs in the
  request's thread (:mod:`aiotao.threads`).  The ``handler`` its factory
  got calls the next link *in that thread* when the next link can run
  there, so a chain of sync tweens over sync views runs in one thread from
  the first tween to the view, as under Pyramid: thread-local state a
  tween sets up (pyramid_tm's default transaction manager) is the view's.
  When the next link is an async tween, the handler waits for it on the
  loop, and synchronous parts below it come back to the same thread;
* the excview tween and the router itself run on either side: on the loop
  below an async tween (Pyramid's excview tween is replaced by
  :func:`excview_tween_factory`, which awaits exception views), in the
  thread below a sync one (Pyramid's own excview tween).

Each synchronous tween is logged once, at startup.  An async tween looks
like a sync one with ``async``/``await``::

    def timing_tween_factory(handler, registry):
        async def timing_tween(request):
            start = time.perf_counter()
            try:
                return await handler(request)
            finally:
                log.info('%s took %.3fs', request.path, time.perf_counter() - start)
        return timing_tween
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from pyramid import tweens as pyramid_tweens
from pyramid.httpexceptions import HTTPNotFound
from pyramid.interfaces import ITweens
from pyramid.registry import Registry
from pyramid.tweens import EXCVIEW

from aiotao.mappers.detection import is_async_callable
from aiotao.sync import wait_for
from aiotao.threads import run_in_request_thread
from aiotao.view import invoke_exception_view_async

log = logging.getLogger(__name__)

AsyncHandler = Callable[[Any], Coroutine[Any, Any, Any]]
SyncHandler = Callable[[Any], Any]


class Link:
    """One stage of the chain, callable from the loop and from the request's thread."""

    __slots__ = ('call_async', 'call_sync', 'name')

    def __init__(
        self, name: str, call_async: AsyncHandler, call_sync: SyncHandler
    ) -> None:
        self.name = name
        self.call_async = call_async
        self.call_sync = call_sync

    def __repr__(self) -> str:
        return f'<Link {self.name}>'

    @classmethod
    def of_async(cls, name: str, handler: AsyncHandler) -> Link:
        """A link whose code is async: the thread waits for it on the loop."""

        def call_sync(request: Any) -> Any:
            return wait_for(lambda: handler(request), 'handler(request)')

        return cls(name, handler, call_sync)

    @classmethod
    def of_sync(cls, name: str, handler: SyncHandler) -> Link:
        """A link whose code is sync: the loop runs it in the request's thread."""

        async def call_async(request: Any) -> Any:
            return await run_in_request_thread(handler, request)

        return cls(name, call_async, handler)


def handler_for_either(downstream: Link) -> SyncHandler:
    """The ``handler`` a tween factory gets: right for an async or a sync tween.

    A factory is called once, and only the tween it returns tells whether
    it is async.  Called on the loop (an async tween awaiting it) the
    handler returns the next link's coroutine; called from the request's
    thread (a sync tween) it runs the next link there.
    """
    call_async, call_sync = downstream.call_async, downstream.call_sync

    def handler(request: Any) -> Any:
        # asyncio's own cheap check: get_running_loop() raises off the loop
        if asyncio._get_running_loop() is not None:
            return call_async(request)
        return call_sync(request)

    return handler


def excview_tween_factory(handler: AsyncHandler, registry: Registry) -> AsyncHandler:
    """Turn exceptions into responses with (possibly async) exception views."""

    async def excview_tween(request: Any) -> Any:
        try:
            return await handler(request)
        except Exception as exc:
            exc_info = sys.exc_info()
            try:
                return await invoke_exception_view_async(request, exc_info)  # type: ignore[arg-type]
            except HTTPNotFound:
                # no exception view for it: the original error goes on
                raise exc from None

    return excview_tween


def excview_link(downstream: Link, registry: Registry) -> Link:
    """The excview tween on both sides: aiotao's on the loop, Pyramid's in the thread."""
    return Link(
        EXCVIEW,
        excview_tween_factory(downstream.call_async, registry),
        pyramid_tweens.excview_tween_factory(downstream.call_sync, registry),
    )


def build_tween_chain(main: Link, registry: Registry) -> Link:
    """Wrap the router's ``main`` link with the registry's tweens, outermost first."""
    tweens = registry.queryUtility(ITweens)
    if tweens is None:
        return main
    link = main
    for name, factory in reversed(tweens.explicit or tweens.implicit()):
        if name == EXCVIEW:
            link = excview_link(link, registry)
            continue
        handler = handler_for_either(link)
        tween = factory(handler, registry)
        if tween is handler:
            continue  # the factory chose not to wrap
        if is_async_callable(tween):
            link = Link.of_async(name, tween)
        else:
            log.info(
                "aiotao: tween %s is synchronous; it runs in each request's "
                'thread (write it with "async def" to run it on the event loop)',
                name,
            )
            link = Link.of_sync(name, tween)
    return link


class EnterLink:
    """A pipeline step (:mod:`aiotao.pipeline`): run ``request`` through a link."""

    __slots__ = ('link', 'request')

    def __init__(self, link: Link, request: Any) -> None:
        self.link = link
        self.request = request

    def on_loop(self) -> Awaitable[Any]:
        return self.link.call_async(self.request)

    def in_thread(self) -> Any:
        return self.link.call_sync(self.request)
