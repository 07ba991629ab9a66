"""View mappers for HTTP views: which views a project accepts, and how.

A mapper turns the callable a user wrote into Pyramid's view shape
``(context, request) -> response``.  aiotao's mappers keep Pyramid's
mapping (they are :class:`~pyramid.viewderivers.DefaultViewMapper`) and add
a policy on what may be registered:

* :class:`CoroutineOrExecutorMapper`, the default once ``aiotao`` is
  included: coroutine views run on the event loop, plain sync views in the
  request's thread (see :mod:`aiotao.threads`), so a legacy blocking view
  never stalls the loop;
* :class:`CoroutineMapper`: coroutine views only; a sync view is a
  configuration error;
* :class:`ExecutorMapper`: sync views only, always in the request's thread.

Pick one per view with ``mapper=``::

    @view_config(route_name='report', mapper=ExecutorMapper)
    def report(request):
        return build_report_blocking(request)

A mapped sync view stays synchronous: where it runs is decided by aiotao's
router when it calls the view, never by wrapping it (Pyramid's
``render_view_to_response``, ``invoke_exception_view`` and add-ons that
call views keep getting responses).  The names are aiopyramid's: migrating
is a change of import path.
"""

from __future__ import annotations

from typing import Any

from pyramid.exceptions import ConfigurationError
from pyramid.interfaces import IViewMapper, IViewMapperFactory
from pyramid.util import object_description
from pyramid.viewderivers import DefaultViewMapper
from zope.interface import implementer, provider

from aiotao.mappers.detection import is_coroutine_view


def _describe(view: Any, attr: str | None) -> str:
    described = object_description(view)
    return f'{described} (attr {attr!r})' if attr else described


@implementer(IViewMapper)
@provider(IViewMapperFactory)
class CoroutineOrExecutorMapper(DefaultViewMapper):  # type: ignore[misc]
    """Coroutine views on the loop, sync views in the request's thread (the default)."""


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
    """Only sync views, always run in the request's thread."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.blocking = kw.get('blocking')

    def __call__(self, view: Any) -> Any:
        if is_coroutine_view(view, self.attr):
            raise ConfigurationError(
                f'ExecutorMapper: the view {_describe(view, self.attr)} is a '
                f'coroutine function and cannot run in a thread.  Register it '
                f'with mapper=aiotao.mappers.CoroutineMapper or the default '
                f'CoroutineOrExecutorMapper.'
            )
        if self.blocking is False:
            raise ConfigurationError(
                f'ExecutorMapper: the view {_describe(view, self.attr)} has '
                f'blocking=False, which runs it on the event loop, while '
                f'ExecutorMapper runs views in a thread: drop one of the two.'
            )
        return super().__call__(view)
