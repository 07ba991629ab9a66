"""The tween chain, rebuilt for the async pipeline.

:func:`build_tween_chain` reads the application's tweens from the registry
(explicit ``pyramid.tweens`` or the implicit, sorted ones) and wraps the
router's async handler with each of them:

* Pyramid's excview tween is replaced by :func:`excview_tween_factory`,
  which awaits exception views;
* a tween whose handler is ``async def`` runs natively on the loop;
* a synchronous tween that wraps the handler (and may have a ``finally``
  that must run after the view) runs in a worker thread, and its
  ``handler(request)`` waits for the downstream pipeline on the loop.
  Each adapted tween is logged once, at startup.

An async tween looks like a sync one with ``async``/``await``::

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

import logging
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from pyramid.httpexceptions import HTTPNotFound
from pyramid.interfaces import ITweens
from pyramid.registry import Registry
from pyramid.tweens import EXCVIEW

from aiotao.mappers.detection import is_async_callable
from aiotao.sync import call_soon_from_thread, to_thread
from aiotao.view import invoke_exception_view_async

log = logging.getLogger(__name__)

AsyncHandler = Callable[[Any], Coroutine[Any, Any, Any]]


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


def adapt_sync_tween(
    name: str, factory: Any, downstream: AsyncHandler, registry: Registry
) -> AsyncHandler:
    """Run a synchronous tween in a worker thread, bridged to the loop."""

    def call_downstream(request: Any) -> Any:
        return call_soon_from_thread(lambda: downstream(request), 'handler(request)')

    sync_tween = factory(call_downstream, registry)

    async def adapted_tween(request: Any) -> Any:
        return await to_thread(sync_tween, request)

    adapted_tween.__name__ = f'adapted_{getattr(sync_tween, "__name__", "tween")}'
    log.info(
        'aiotao: tween %s is synchronous; it runs in a worker thread and waits '
        'for the async pipeline (write it with "async def" to avoid the hop)',
        name,
    )
    return adapted_tween


def build_tween_chain(handler: AsyncHandler, registry: Registry) -> AsyncHandler:
    """Wrap ``handler`` with the registry's tweens, outermost first."""
    tweens = registry.queryUtility(ITweens)
    if tweens is None:
        return handler
    use = tweens.explicit or tweens.implicit()
    for name, factory in reversed(use):
        if name == EXCVIEW:
            handler = excview_tween_factory(handler, registry)
            continue
        tween = factory(handler, registry)
        if tween is handler or is_async_callable(tween):
            handler = tween
        else:
            handler = adapt_sync_tween(name, factory, handler, registry)
    return handler
