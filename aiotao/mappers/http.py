"""View mappers for HTTP views: which views run on the loop, which in threads.

``CoroutineOrExecutorMapper`` (the default once ``aiotao`` is included)
awaits coroutine views on the event loop and runs plain sync views in a
thread pool, with :mod:`contextvars` copied, so a legacy blocking view never
stalls the loop.  ``CoroutineMapper`` accepts coroutine views only and
``ExecutorMapper`` sync views only; pick one per view with ``mapper=``::

    @view_config(route_name='report', mapper=ExecutorMapper)
    def report(request):
        return build_report_blocking(request)

The names are aiopyramid's: migrating is a change of import path.
"""

from __future__ import annotations

from typing import Any

from pyramid.exceptions import ConfigurationError
from pyramid.interfaces import IViewMapper, IViewMapperFactory
from pyramid.util import object_description
from pyramid.viewderivers import DefaultViewMapper
from zope.interface import implementer, provider

from aiotao.mappers.detection import is_coroutine_view
from aiotao.sync import to_thread


def _describe(view: Any, attr: str | None) -> str:
    described = object_description(view)
    return f'{described} (attr {attr!r})' if attr else described


def run_in_thread(mapped_view: Any) -> Any:
    """Wrap a mapped sync view so that it runs in the loop's thread pool."""

    async def view_in_thread(context: Any, request: Any) -> Any:
        # the context is copied: get_current_request() works there
        return await to_thread(mapped_view, context, request)

    view_in_thread.__text__ = getattr(  # type: ignore[attr-defined]
        mapped_view, '__text__', object_description(mapped_view)
    )
    return view_in_thread


@implementer(IViewMapper)
@provider(IViewMapperFactory)
class CoroutineOrExecutorMapper(DefaultViewMapper):  # type: ignore[misc]
    """Coroutine views on the loop, sync views in a thread pool (the default)."""

    def __call__(self, view: Any) -> Any:
        mapped = super().__call__(view)
        if is_coroutine_view(view, self.attr):
            return mapped
        return run_in_thread(mapped)


@implementer(IViewMapper)
@provider(IViewMapperFactory)
class CoroutineMapper(DefaultViewMapper):  # type: ignore[misc]
    """Only coroutine views; a sync view is a configuration error."""

    def __call__(self, view: Any) -> Any:
        if not is_coroutine_view(view, self.attr):
            raise ConfigurationError(
                f'CoroutineMapper: the view {_describe(view, self.attr)} is '
                f'not a coroutine function.  Make it "async def", or register '
                f'it with mapper=aiotao.mappers.ExecutorMapper (or the default '
                f'CoroutineOrExecutorMapper) to run it in a thread.'
            )
        return super().__call__(view)


@implementer(IViewMapper)
@provider(IViewMapperFactory)
class ExecutorMapper(DefaultViewMapper):  # type: ignore[misc]
    """Only sync views, always run in the thread pool."""

    def __call__(self, view: Any) -> Any:
        if is_coroutine_view(view, self.attr):
            raise ConfigurationError(
                f'ExecutorMapper: the view {_describe(view, self.attr)} is a '
                f'coroutine function and cannot run in a thread.  Register it '
                f'with mapper=aiotao.mappers.CoroutineMapper or the default '
                f'CoroutineOrExecutorMapper.'
            )
        return run_in_thread(super().__call__(view))
