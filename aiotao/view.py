"""Finding and calling views, with awaiting: the async side of ``pyramid.view``.

:func:`call_view` is Pyramid's ``_call_view`` for the async pipeline.  Each
view it calls runs where it belongs (see :mod:`aiotao.viewderivers`):

* a coroutine view, and a sync view configured with ``blocking=False``, is
  called on the loop and its result awaited;
* any other sync view runs in the request's thread
  (:mod:`aiotao.threads`), with the exception it handles active there for
  an exception view (``sys.exc_info()``, a bare ``raise``), as in Pyramid.

A :class:`~pyramid.exceptions.PredicateMismatch` raised when a view is
called *or* while it is awaited falls through to the next candidate, and a
``MultiView`` is walked the same way, each of its views run where it
belongs.  View lookup itself (and its cache) is Pyramid's ``_find_views``.
"""

from __future__ import annotations

import contextvars
import sys
from collections.abc import Awaitable
from types import TracebackType
from typing import Any

from pyramid.config.views import MultiView
from pyramid.exceptions import PredicateMismatch
from pyramid.httpexceptions import HTTPNotFound, default_exceptionresponse_view
from pyramid.interfaces import (
    IExceptionViewClassifier,
    IRequest,
    IViewClassifier,
)
from pyramid.registry import Registry
from pyramid.threadlocal import get_current_registry, manager
from pyramid.util import hide_attrs
from pyramid.view import _find_views
from zope.interface import providedBy
from zope.interface.interface import InterfaceClass

from aiotao.awaitables import is_awaitable
from aiotao.pipeline import Steps, run_on_loop
from aiotao.threads import run_in_request_thread

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]

#: Set by :func:`call_view_callable` while it calls a view that runs on the
#: loop: the view's own wrapper (``awaitable_view``) then hands back an
#: awaitable instead of waiting for it, and clears the flag so that views
#: the call reaches synchronously do not inherit it.
dispatching: contextvars.ContextVar[bool] = contextvars.ContextVar(
    'aiotao.dispatching', default=False
)


def is_blocking(view: Any) -> bool:
    """``True`` if the derived ``view`` runs in the request's thread.

    aiotao's ``awaitable_view`` deriver marks the views it wraps with
    ``__blocking__``; Pyramid's own derivers keep a ``__wraps__`` chain to
    it.  A view without a mark is a plain sync view: it blocks, except
    Pyramid's default exception view (404/403 pages), which never does.
    """
    candidate = view
    while candidate is not None:
        blocking = getattr(candidate, '__blocking__', None)
        if blocking is not None:
            return bool(blocking)
        candidate = getattr(candidate, '__wraps__', None)
    return (
        getattr(view, '__original_view__', view) is not default_exceptionresponse_view
    )


def call_in_thread(
    view: Any, context: Any, request: Any, exc_info: ExcInfo | None = None
) -> Any:
    """Call a view in the request's thread as Pyramid does, MultiViews included.

    An exception view (``exc_info`` given) runs with the exception it handles
    active: in Pyramid it runs inside the excview tween's ``except`` block,
    and here an ``except`` block stands for it.
    """
    if exc_info is None:
        return view(context, request)
    exc = exc_info[1]
    try:
        raise exc
    except BaseException:
        # the view sees the traceback of where the error happened, not this frame
        exc.__traceback__ = exc_info[2]
        return view(context, request)


async def call_view_callable(
    view: Any, context: Any, request: Any, exc_info: ExcInfo | None = None
) -> Any:
    """Call one derived view (or ``MultiView``) where it runs; its awaited result."""
    if isinstance(view, MultiView):
        # MultiView.__call__, with each view run where it belongs
        for _order, candidate, _phash in view.get_views(request):
            try:
                return await call_view_callable(candidate, context, request, exc_info)
            except PredicateMismatch:
                continue
        raise PredicateMismatch(view.name)
    if is_blocking(view):
        response = await run_in_request_thread(
            call_in_thread, view, context, request, exc_info
        )
    else:
        token = dispatching.set(True)
        try:
            response = view(context, request)
        finally:
            dispatching.reset(token)
    while is_awaitable(response):
        response = await response
    return response


class CallView:
    """A pipeline step (:mod:`aiotao.pipeline`): call a derived view where it runs."""

    __slots__ = ('context', 'exc_info', 'request', 'view')

    def __init__(
        self, view: Any, context: Any, request: Any, exc_info: ExcInfo | None = None
    ) -> None:
        self.view = view
        self.context = context
        self.request = request
        self.exc_info = exc_info

    def on_loop(self) -> Awaitable[Any]:
        return call_view_callable(self.view, self.context, self.request, self.exc_info)

    def in_thread(self) -> Any:
        return call_in_thread(self.view, self.context, self.request, self.exc_info)


def view_steps(
    registry: Registry,
    request: Any,
    context: Any,
    context_iface: Any,
    view_name: str,
    view_types: Any = None,
    view_classifier: InterfaceClass | None = None,
    secure: bool = True,
    request_iface: Any = None,
    exc_info: ExcInfo | None = None,
) -> Steps[Any]:
    """Pyramid's ``_call_view`` as pipeline steps: the first matching view's response.

    The result is ``None`` when no view was found.
    """
    if request_iface is None:
        request_iface = getattr(request, 'request_iface', IRequest)
    view_callables = _find_views(
        registry,
        request_iface,
        context_iface,
        view_name,
        view_types=view_types,
        view_classifier=view_classifier,
    )
    mismatch = None
    for view_callable in view_callables:
        if not secure:
            # a secured view keeps the unsecured one here
            view_callable = getattr(view_callable, '__call_permissive__', view_callable)
        try:
            return (yield CallView(view_callable, context, request, exc_info))
        except PredicateMismatch as exc:
            mismatch = exc
    if mismatch is not None:
        raise mismatch
    return None


async def call_view(
    registry: Registry,
    request: Any,
    context: Any,
    context_iface: Any,
    view_name: str,
    view_types: Any = None,
    view_classifier: InterfaceClass | None = None,
    secure: bool = True,
    request_iface: Any = None,
    exc_info: ExcInfo | None = None,
) -> Any:
    """Call the first matching view and return its (awaited) response.

    Returns ``None`` when no view was found, like Pyramid's ``_call_view``.
    """
    return await run_on_loop(
        view_steps(
            registry,
            request,
            context,
            context_iface,
            view_name,
            view_types,
            view_classifier,
            secure,
            request_iface,
            exc_info,
        )
    )


async def invoke_exception_view_async(
    request: Any,
    exc_info: ExcInfo | None = None,
    secure: bool = True,
    reraise: bool = False,
) -> Any:
    """Render ``exc_info`` with the matching (possibly async) exception view.

    The async counterpart of ``request.invoke_exception_view`` with the same
    arguments and results: the view sees a fresh ``request.response`` and
    ``request.exception``; without a matching view, :class:`HTTPNotFound` is
    raised (or the original exception, with ``reraise=True``)::

        try:
            ...
        except ValueError:
            response = await request.invoke_exception_view_async()
    """
    registry = getattr(request, 'registry', None) or get_current_registry()
    if exc_info is None:
        exc_info = sys.exc_info()  # type: ignore[assignment]
    assert exc_info is not None
    exc = exc_info[1]
    attrs = request.__dict__
    # Hide the response the failed view may have mutated (caching headers
    # and so on): the exception view gets a fresh one, as in Pyramid.
    with hide_attrs(request, 'response', 'exc_info', 'exception'):
        attrs['exception'] = exc
        attrs['exc_info'] = exc_info
        request_iface = attrs.get('request_iface', IRequest)
        manager.push({'request': request, 'registry': registry})
        try:
            response = await call_view(
                registry,
                request,
                exc,
                providedBy(exc),
                '',
                view_classifier=IExceptionViewClassifier,
                secure=secure,
                request_iface=request_iface.combined,
                exc_info=exc_info,
            )
        except Exception:
            if reraise:
                raise exc_info[1].with_traceback(exc_info[2]) from None
            raise
        finally:
            manager.pop()
    if response is None:
        if reraise:
            raise exc_info[1].with_traceback(exc_info[2])
        raise HTTPNotFound
    attrs['exception'] = exc
    attrs['exc_info'] = exc_info
    return response


async def render_view_to_response_async(
    context: Any, request: Any, name: str = '', secure: bool = True
) -> Any:
    """Async counterpart of :func:`pyramid.view.render_view_to_response`.

    ::

        response = await render_view_to_response_async(context, request, 'edit')
    """
    registry = getattr(request, 'registry', None) or get_current_registry()
    return await call_view(
        registry,
        request,
        context,
        providedBy(context),
        name,
        view_classifier=IViewClassifier,
        secure=secure,
        request_iface=providedBy(request),
    )
