"""View derivers that understand awaitable view results.

Pyramid's ``rendered_view``, ``http_cached_view`` and ``owrapped_view``
post-process what the inner view returned; given a coroutine they would try
to render the coroutine object.  :func:`awaiting` turns each of them into a
deriver that behaves exactly as Pyramid's for a plain result (it *is*
Pyramid's code), and for an awaitable returns a coroutine that awaits it and
then hands the result to the same Pyramid post-processing.
:func:`rendered_view`, on every request that renders, is Pyramid's steps
written out instead, with a cheaper "is it a response already?"
(:func:`as_response`).

``secured_view`` is replaced because the security policy itself may be async
(see :mod:`aiotao.security`): a permission check is awaited, and an
awaitable never counts as permission.  Being the outermost of Pyramid's
derivers, it is also where aiotao decides **where the view runs** (the
``blocking`` view option) and what a synchronous caller of an async view
gets (:func:`placed`):

* a sync view stays exactly the view Pyramid derives (the same object when
  no option needs wrapping): a callable ``(context, request)`` returning a
  response.  aiotao's router runs it in the request's thread
  (:mod:`aiotao.threads`); ``blocking=False`` runs it on the event loop,
  for views that never wait on I/O::

      @view_config(route_name='health', renderer='json', blocking=False)
      def health(request):
          return {'ok': True}

* an async view returns an awaitable to aiotao's router, which awaits it
  on the loop.  Called synchronously from a thread with no running loop
  (a WSGI server, ``render_view_to_response`` in a sync view or a test),
  it runs to completion and returns the response; called synchronously on
  the loop's own thread, it raises :exc:`RuntimeError` naming the
  ``await``-able counterpart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from pyramid import renderers
from pyramid import viewderivers as pyramid_derivers
from pyramid.exceptions import ConfigurationError
from pyramid.httpexceptions import HTTPForbidden
from pyramid.interfaces import IDefaultPermission, IResponse, IViewDeriverInfo
from pyramid.registry import Registry
from pyramid.renderers import RendererHelper
from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.util import object_description
from pyramid.viewderivers import preserve_view_attrs
from zope.interface import implementedBy

from aiotao.awaitables import is_awaitable
from aiotao.mappers.detection import is_async_callable, is_coroutine_view
from aiotao.rendering import RenderPath
from aiotao.security import (
    AsyncAwareSecurityPolicy,
    as_answer,
    permits,
    unwrapped_policy,
)
from aiotao.sync import WAITING_ON_THE_LOOP, wait_for_awaitable
from aiotao.view import dispatching

View = Callable[[Any, Any], Any]
Deriver = Callable[[View, IViewDeriverInfo], View]

# Where a view's result waits, on the request, for Pyramid's post-processing.
_RESULT = 'aiotao.view_result'


def awaiting(pyramid_deriver: Deriver, renders_views: bool = False) -> Deriver:
    """Make a result-post-processing Pyramid deriver accept awaitables.

    ``renders_views``: the post-processing calls another view (Pyramid's
    ``owrapped_view`` renders the wrapper view).  That call is aiotao's
    own: it gets the wrapper's awaitable, which is awaited here, or by the
    view's outermost wrapper (:func:`placed`) for a synchronous caller.
    """

    def deriver(view: View, info: IViewDeriverInfo) -> View:
        def result_of_view(context: Any, request: Any) -> Any:
            return request.__dict__.pop(_RESULT)

        # Pyramid's code looks at its inner view for error messages and for
        # the instance it hands the renderer: let it see the real view.
        preserve_view_attrs(view, result_of_view)
        post_process = pyramid_deriver(result_of_view, info)
        if post_process is result_of_view:
            return view  # nothing to do for this view's options
        if renders_views:
            post_process = _rendering_views(post_process)

        async def await_then_post_process(
            result: Any, context: Any, request: Any
        ) -> Any:
            request.__dict__[_RESULT] = await result
            response = post_process(context, request)
            # owrapped_view renders a wrapper view, which may be async too
            while is_awaitable(response):
                response = await response
            return response

        def derived_view(context: Any, request: Any) -> Any:
            result = view(context, request)
            if is_awaitable(result):
                return await_then_post_process(result, context, request)
            request.__dict__[_RESULT] = result
            return post_process(context, request)

        return derived_view

    deriver.options = pyramid_deriver.options  # type: ignore[attr-defined]
    deriver.__name__ = pyramid_deriver.__name__
    deriver.__doc__ = f'Awaitable-aware ``{pyramid_deriver.__name__}``.'
    return deriver


def _rendering_views(post_process: View) -> View:
    def post_process_rendering_views(context: Any, request: Any) -> Any:
        token = dispatching.set(True)
        try:
            return post_process(context, request)
        finally:
            dispatching.reset(token)

    return post_process_rendering_views


#: Builtin types whose instances cannot declare interfaces of their own:
#: whether one adapts to ``IResponse`` depends on its type alone.
_PLAIN_TYPES = frozenset({str, bytes, dict, list, tuple, int, float, bool})


def as_response(registry: Registry, result: Any) -> Any:
    """``registry.queryAdapterOrSelf(result, IResponse)``, cheaper for plain values.

    For a ``str`` or a ``dict`` (what views with a renderer return), zope's
    ``providedBy`` looks for ``__providedBy__`` and ``__provides__`` on the
    instance and formats an ``AttributeError`` for each, twice: more than
    the rest of the rendering.  Its answer is ``implementedBy(type)``, and
    the adapter lookup on that is zope's own, cached and invalidated by it.

    >>> from pyramid.config import Configurator
    >>> config = Configurator()
    >>> as_response(config.registry, 'text') is None
    True
    >>> config.add_response_adapter(lambda s: Response(s), str); config.commit()
    >>> as_response(config.registry, 'text').text
    'text'
    """
    kind = type(result)
    if kind not in _PLAIN_TYPES:
        return registry.queryAdapterOrSelf(result, IResponse)
    spec = implementedBy(kind)
    if spec.isOrExtends(IResponse):
        return result
    factory = registry.adapters.lookup((spec,), IResponse, '')
    return None if factory is None else factory(result)


def rendered_view(view: View, info: IViewDeriverInfo) -> View:
    """Pyramid's ``rendered_view``, awaiting an awaitable result first.

    The rendering is Pyramid's, step by step; :func:`as_response` answers
    its "is this a response already?" for less.  A view without a renderer
    option keeps Pyramid's deriver (through :func:`awaiting`).
    """
    renderer = info.options.get('renderer')
    if renderer is None:
        return _awaiting_rendered_view(view, info)
    if renderer is renderers.null_renderer:
        return view
    registry = info.registry
    view_inst_default = getattr(view, '__original_view__', view)
    # a renderer helper of Pyramid's own class: its path is taken per view
    path = RenderPath(renderer, registry) if type(renderer) is RendererHelper else None

    def render(result: Any, context: Any, request: Any) -> Any:
        if result.__class__ is Response:  # the common case of a response
            return result
        response = as_response(registry, result)
        if response is not None:
            return response
        attrs = getattr(request, '__dict__', {})
        if '__view__' in attrs:
            view_inst = attrs.pop('__view__')
        else:
            view_inst = view_inst_default
        if 'override_renderer' in attrs:
            # renderer overridden by a NewRequest subscriber or other
            view_renderer = renderers.RendererHelper(
                name=attrs.pop('override_renderer'),
                package=info.package,
                registry=registry,
            )
        elif path is not None:
            return path.render(result, view_inst, context, request)
        else:
            view_renderer = renderer.clone()
        return view_renderer.render_view(request, result, view_inst, context)

    async def await_then_render(result: Any, context: Any, request: Any) -> Any:
        return render(await result, context, request)

    def rendered(context: Any, request: Any) -> Any:
        result = view(context, request)
        if is_awaitable(result):
            return await_then_render(result, context, request)
        return render(result, context, request)

    return rendered


rendered_view.options = ('renderer',)  # type: ignore[attr-defined]
_awaiting_rendered_view = awaiting(pyramid_derivers.rendered_view)
http_cached_view = awaiting(pyramid_derivers.http_cached_view)
owrapped_view = awaiting(pyramid_derivers.owrapped_view, renders_views=True)


def secured_view(view: View, info: IViewDeriverInfo) -> View:
    """``permission=`` against a sync or async policy; where the view runs."""
    view = pyramid_derivers.wraps_view(_secured_view)(view, info)
    # Pyramid's debug_authorization logging, unchanged.
    view = pyramid_derivers.wraps_view(pyramid_derivers._authdebug_view)(view, info)
    placed_view: View = pyramid_derivers.wraps_view(placed)(view, info)
    return placed_view


secured_view.options = ('permission', 'blocking')  # type: ignore[attr-defined]

#: What a synchronous caller on the loop's thread should await instead.
ASYNC_COUNTERPARTS = (
    'await the async counterpart of the call: '
    'request.invoke_exception_view_async(), '
    'aiotao.view.render_view_to_response_async(...) or '
    'request.invoke_subrequest_async(...)'
)


def placed(view: View, info: IViewDeriverInfo) -> View:
    """Mark where the view runs; complete an awaitable for synchronous callers.

    A sync view whose result can never be awaitable is returned as it is:
    the derived view is then exactly Pyramid's.
    """
    blocking = info.options.get('blocking')
    runs_async = _is_async_view(info)
    if blocking not in (None, True, False):
        raise ConfigurationError(
            f'blocking={blocking!r} for the view {_described(info)}: it must be '
            f"True (run in the request's thread) or False (run on the event loop)"
        )
    if blocking is None:
        blocking = not runs_async
    elif blocking and runs_async:
        raise ConfigurationError(
            f'blocking=True for the view {_described(info)}, which is a coroutine '
            f'function: coroutines run on the event loop; remove the option, or '
            f'make the view a plain "def" to run it in a thread'
        )
    if blocking and not _may_return_awaitable(info):
        return view
    described = _described(info)

    hint = f'the view {described} is async, so {ASYNC_COUNTERPARTS}'

    def placed_view(context: Any, request: Any) -> Any:
        if dispatching.get():
            # aiotao's router awaits what this call returns.  Views this
            # call reaches synchronously are not its: they get responses.
            dispatching.set(False)
            return view(context, request)
        if runs_async and asyncio._get_running_loop() is not None:
            # refused before the call: no coroutine is left never awaited
            raise RuntimeError(f'{hint}: {WAITING_ON_THE_LOOP}')
        result = view(context, request)
        if is_awaitable(result):
            return wait_for_awaitable(result, hint)
        return result

    placed_view.__blocking__ = blocking  # type: ignore[attr-defined]
    return placed_view


def _is_async_view(info: IViewDeriverInfo) -> bool:
    from aiotao.mappers.websocket import WebsocketMapper

    mapper = info.options.get('mapper')
    if isinstance(mapper, type) and issubclass(mapper, WebsocketMapper):
        return True
    return is_coroutine_view(info.original_view, info.options.get('attr'))


def _may_return_awaitable(info: IViewDeriverInfo) -> bool:
    """Can a sync view's derived view still return an awaitable?

    An async security policy's check is awaited (``permission=``), and a
    ``wrapper=`` view may be async.
    """
    if info.options.get('wrapper'):
        return True
    policy = unwrapped_policy(info.registry)
    return policy is not None and is_async_callable(getattr(policy, 'permits', None))


def _described(info: IViewDeriverInfo) -> str:
    attr = info.options.get('attr')
    described = object_description(info.original_view)
    return f'{described} (attr {attr!r})' if attr else described


def _secured_view(view: View, info: IViewDeriverInfo) -> View:
    permission = info.options.get('permission')
    if not info.exception_only and permission is None:
        # exception views do not inherit the default permission
        permission = info.registry.queryUtility(IDefaultPermission)
    if permission == NO_PERMISSION_REQUIRED:
        permission = None
    policy = unwrapped_policy(info.registry)
    if policy is None or permission is None:
        return view
    sync_policy = AsyncAwareSecurityPolicy(policy)

    def forbidden(request: Any, result: Any) -> HTTPForbidden:
        view_name = getattr(view, '__name__', view)
        msg = getattr(
            request,
            'authdebug_message',
            f'Unauthorized: {view_name} failed permission check',
        )
        return HTTPForbidden(msg, result=result)

    async def check_then_call(pending: Any, context: Any, request: Any) -> Any:
        result = as_answer(await pending)
        if not result:
            raise forbidden(request, result)
        response = view(context, request)
        return await response if is_awaitable(response) else response

    def secured(context: Any, request: Any) -> Any:
        result = policy.permits(request, context, permission)
        if is_awaitable(result):
            return check_then_call(result, context, request)
        if result:
            return view(context, request)
        raise forbidden(request, result)

    def permitted(context: Any, request: Any) -> Any:
        # Sync callers (view_execution_permitted, multiviews) fail closed.
        return sync_policy.permits(request, context, permission)

    async def permitted_async(context: Any, request: Any) -> Any:
        return await permits(policy, request, context, permission)

    secured.__call_permissive__ = view  # type: ignore[attr-defined]
    secured.__permitted__ = permitted  # type: ignore[attr-defined]
    secured.__permitted_async__ = permitted_async  # type: ignore[attr-defined]
    secured.__permission__ = permission  # type: ignore[attr-defined]
    return secured


#: The replacements: (name, deriver, under), in the places Pyramid's
#: ``add_default_view_derivers`` gives its own (each also over ``VIEW``).
REPLACED_DERIVERS: list[tuple[str, Deriver, str]] = [
    ('secured_view', secured_view, pyramid_derivers.INGRESS),
    ('owrapped_view', owrapped_view, 'secured_view'),
    ('http_cached_view', http_cached_view, 'owrapped_view'),
    ('rendered_view', rendered_view, 'decorated_view'),
]
