"""Finding and calling views, with awaiting: the async side of ``pyramid.view``.

:func:`call_view` is Pyramid's ``_call_view`` for views that may be
coroutines: a :class:`~pyramid.exceptions.PredicateMismatch` raised when a view
is called *or* while it is awaited still falls through to the next
candidate.  View lookup itself (and its cache) is Pyramid's ``_find_views``.
"""

from __future__ import annotations

import asyncio
import sys
from types import TracebackType
from typing import Any

from pyramid.exceptions import PredicateMismatch
from pyramid.httpexceptions import HTTPNotFound
from pyramid.interfaces import (
    IExceptionViewClassifier,
    IRequest,
    IViewClassifier,
)
from pyramid.registry import Registry
from pyramid.request import Request as PyramidRequest
from pyramid.threadlocal import get_current_registry, manager
from pyramid.util import hide_attrs
from pyramid.view import _find_views
from zope.interface import providedBy
from zope.interface.interface import InterfaceClass

from aiotao.awaitables import close_if_coroutine, is_awaitable
from aiotao.sync import call_soon_from_thread

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


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
) -> Any:
    """Call the first matching view and return its (awaited) response.

    Returns ``None`` when no view was found, like Pyramid's ``_call_view``.
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
            response = view_callable(context, request)
            while is_awaitable(response):
                response = await response
            return response
        except PredicateMismatch as exc:
            mismatch = exc
    if mismatch is not None:
        raise mismatch
    return None


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
    """Async counterpart of :func:`pyramid.view.render_view_to_response`."""
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


def invoke_exception_view(
    self: Any,
    exc_info: ExcInfo | None = None,
    request: Any = None,
    secure: bool = True,
    reraise: bool = False,
) -> Any:
    """``request.invoke_exception_view`` that also reaches async exception views.

    Installed on the request by ``config.include('aiotao')``.  In a worker
    thread (a sync view) it waits for the request's loop to run the view.  On
    the loop's own thread it runs Pyramid's synchronous version, which is
    right for sync exception views; an async one there needs
    ``await request.invoke_exception_view_async()``.
    """
    if exc_info is None:
        exc_info = sys.exc_info()  # type: ignore[assignment]
    target = request if request is not None else self
    if _on_loop_thread():
        response = PyramidRequest.invoke_exception_view(
            self, exc_info, target, secure, reraise
        )
        if is_awaitable(response):
            close_if_coroutine(response)
            raise RuntimeError(
                'the exception view is async and the event loop runs in this '
                'thread: use "await request.invoke_exception_view_async()"'
            )
        return response
    return call_soon_from_thread(
        lambda: invoke_exception_view_async(target, exc_info, secure, reraise),
        'request.invoke_exception_view_async()',
    )


def _on_loop_thread() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
