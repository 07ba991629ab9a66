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
awaitable never counts as permission.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyramid import renderers
from pyramid import viewderivers as pyramid_derivers
from pyramid.httpexceptions import HTTPForbidden
from pyramid.interfaces import IDefaultPermission, IResponse, IViewDeriverInfo
from pyramid.registry import Registry
from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.viewderivers import preserve_view_attrs
from zope.interface import implementedBy

from aiotao.awaitables import is_awaitable
from aiotao.security import (
    AsyncAwareSecurityPolicy,
    as_answer,
    permits,
    unwrapped_policy,
)

View = Callable[[Any, Any], Any]
Deriver = Callable[[View, IViewDeriverInfo], View]

# Where a view's result waits, on the request, for Pyramid's post-processing.
_RESULT = 'aiotao.view_result'


def awaiting(pyramid_deriver: Deriver) -> Deriver:
    """Make a result-post-processing Pyramid deriver accept awaitables."""

    def deriver(view: View, info: IViewDeriverInfo) -> View:
        def result_of_view(context: Any, request: Any) -> Any:
            return request.__dict__.pop(_RESULT)

        # Pyramid's code looks at its inner view for error messages and for
        # the instance it hands the renderer: let it see the real view.
        preserve_view_attrs(view, result_of_view)
        post_process = pyramid_deriver(result_of_view, info)
        if post_process is result_of_view:
            return view  # nothing to do for this view's options

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

    def render(result: Any, context: Any, request: Any) -> Any:
        if result.__class__ is Response:  # the common case of a response
            return result
        response = as_response(registry, result)
        if response is not None:
            return response
        attrs = getattr(request, '__dict__', {})
        if 'override_renderer' in attrs:
            # renderer overridden by a NewRequest subscriber or other
            view_renderer = renderers.RendererHelper(
                name=attrs.pop('override_renderer'),
                package=info.package,
                registry=registry,
            )
        else:
            view_renderer = renderer.clone()
        if '__view__' in attrs:
            view_inst = attrs.pop('__view__')
        else:
            view_inst = view_inst_default
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
owrapped_view = awaiting(pyramid_derivers.owrapped_view)


def secured_view(view: View, info: IViewDeriverInfo) -> View:
    """``permission=`` checked against a sync or async security policy."""
    view = pyramid_derivers.wraps_view(_secured_view)(view, info)
    # Pyramid's debug_authorization logging, unchanged.
    logged: View = pyramid_derivers.wraps_view(pyramid_derivers._authdebug_view)(
        view, info
    )
    return logged


secured_view.options = ('permission',)  # type: ignore[attr-defined]


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
