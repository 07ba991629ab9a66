"""The async request pipeline: Pyramid's router, awaiting where it may.

:class:`AsyncRouter` is built from an application's registry and does what
``pyramid.router.Router`` does (NewRequest, route matching, BeforeTraversal,
traversal, ContextFound, view lookup and call, response callbacks,
NewResponse, finished callbacks) but awaits every result that may be
awaitable.  Servers use it through :meth:`AsyncRouter.handle`::

    router = AsyncRouter.from_wsgi_app(config.make_wsgi_app())
    response = await router.handle(environ)

The same object serves aiotao's gunicorn worker, the ASGI adapter and, under
a plain WSGI server, the per-thread loop of :mod:`aiotao.wsgi`.
"""

from __future__ import annotations

from typing import Any

from pyramid.events import BeforeTraversal, ContextFound, NewRequest, NewResponse
from pyramid.httpexceptions import HTTPNotFound
from pyramid.interfaces import (
    IDebugLogger,
    IRequest,
    IRequestExtensions,
    IRequestFactory,
    IRootFactory,
    IRouteRequest,
    IRoutesMapper,
    ITraverser,
)
from pyramid.registry import Registry
from pyramid.threadlocal import RequestContext, manager
from pyramid.traversal import DefaultRootFactory
from pyramid.util import InstancePropertyHelper
from zope.interface import implementedBy, implementer, providedBy

from aiotao.awaitables import is_awaitable
from aiotao.events import call_subscribers
from aiotao.interfaces import IAsyncRouter
from aiotao.request import (
    ASYNC_METHOD_NAMES,
    ASYNC_PROPERTY_NAMES,
    AsyncRequestMethods,
)
from aiotao.request import Request as AsyncRequest
from aiotao.security import wrap_registered_policy
from aiotao.sync import call_soon_from_thread
from aiotao.threadlocal import ContextLocalManager, pop_request, push_request
from aiotao.traversal import AsyncResourceTreeTraverser
from aiotao.tweens import build_tween_chain
from aiotao.view import call_view

_NEW_REQUEST = (implementedBy(NewRequest),)
_BEFORE_TRAVERSAL = (implementedBy(BeforeTraversal),)
_CONTEXT_FOUND = (implementedBy(ContextFound),)
_NEW_RESPONSE = (implementedBy(NewResponse),)


@implementer(IAsyncRouter)
class AsyncRouter:
    """Routes requests to views on an event loop, awaiting async parts."""

    debug_notfound = False
    debug_routematch = False

    def __init__(self, registry: Registry) -> None:
        q = registry.queryUtility
        self.registry = registry
        self.logger = q(IDebugLogger)
        self.root_factory = q(IRootFactory, default=DefaultRootFactory)
        self.routes_mapper = q(IRoutesMapper)
        self.request_factory = q(IRequestFactory)
        if self.request_factory is None:
            self.request_factory = AsyncRequest
        # An app's own request class gets the async methods bound per request.
        self.bind_async_methods = (
            not issubclass(self.request_factory, AsyncRequestMethods)
            if isinstance(self.request_factory, type)
            else True
        )
        self.request_extensions = q(IRequestExtensions)
        self._extended_classes: dict[type[Any], type[Any]] = {}
        settings = registry.settings
        if settings is not None:
            self.debug_notfound = settings['debug_notfound']
            self.debug_routematch = settings['debug_routematch']
        # A policy set in a later commit than aiotao's include is wrapped here.
        wrap_registered_policy(registry)
        self.orig_handle_request = self.handle_request
        self.handle_request = build_tween_chain(self.handle_request, registry)  # type: ignore[method-assign,assignment]

    @classmethod
    def for_registry(cls, registry: Registry) -> AsyncRouter:
        """The registry's router, built on first use and then reused."""
        router = registry.queryUtility(IAsyncRouter)
        if router is None:
            router = cls(registry)
            registry.registerUtility(router, IAsyncRouter)
        return router  # type: ignore[no-any-return]

    @classmethod
    def from_wsgi_app(cls, app: Any) -> AsyncRouter:
        """The async router of a Pyramid WSGI app (``config.make_wsgi_app()``).

        Raises :class:`TypeError` for a WSGI app that is not Pyramid's: such
        an app has no registry to route with (serve it in a thread pool).
        """
        registry = getattr(app, 'registry', None)
        if not isinstance(registry, Registry):
            raise TypeError(
                f'{app!r} is not a Pyramid application (it has no registry); '
                f'aiotao serves other WSGI applications in a thread pool'
            )
        return cls.for_registry(registry)

    async def handle_request(self, request: Any) -> Any:
        """Find the context and the view for ``request`` and call it (MAIN)."""
        attrs = request.__dict__
        registry = attrs['registry']
        request.request_iface = IRequest
        has_listeners = registry.has_listeners
        logger = self.logger

        subscriptions = registry.adapters.subscriptions
        # Looking subscribers up by event class first spares requests the
        # event objects and coroutines when nothing listens to that event.
        if has_listeners and (subscribers := subscriptions(_NEW_REQUEST, None)):
            await call_subscribers(subscribers, NewRequest(request))
        root_factory = self.root_factory
        routes_mapper = self.routes_mapper
        if routes_mapper is not None:
            info = routes_mapper(request)
            match, route = info['match'], info['route']
            if route is None:
                if self.debug_routematch and logger:
                    logger.debug(f'no route matched for url {request.url}')
            else:
                attrs['matchdict'] = match
                attrs['matched_route'] = route
                if self.debug_routematch and logger:
                    logger.debug(
                        'route matched for url {}; route_name: {!r}, '
                        'path_info: {!r}, pattern: {!r}, matchdict: {!r}, '
                        'predicates: {!r}'.format(
                            request.url,
                            route.name,
                            request.path_info,
                            route.pattern,
                            match,
                            ', '.join([p.text() for p in route.predicates]),
                        )
                    )
                request.request_iface = registry.queryUtility(
                    IRouteRequest, name=route.name, default=IRequest
                )
                root_factory = route.factory or self.root_factory

        if has_listeners and (subscribers := subscriptions(_BEFORE_TRAVERSAL, None)):
            await call_subscribers(subscribers, BeforeTraversal(request))

        root = root_factory(request)
        if is_awaitable(root):
            root = await root
        attrs['root'] = root

        traverser = registry.adapters.queryAdapter(root, ITraverser)
        if traverser is None:
            traverser = AsyncResourceTreeTraverser(root)
        tdict = traverser(request)
        if is_awaitable(tdict):
            tdict = await tdict
        attrs.update(tdict)
        context = tdict['context']
        view_name = tdict['view_name']

        if has_listeners and (subscribers := subscriptions(_CONTEXT_FOUND, None)):
            await call_subscribers(subscribers, ContextFound(request))

        response = await call_view(
            registry, request, context, providedBy(context), view_name
        )
        if response is None:
            if self.debug_notfound:
                msg = (
                    'debug_notfound of url {}; path_info: {!r}, context: {!r}, '
                    'view_name: {!r}, subpath: {!r}, traversed: {!r}, root: {!r}, '
                    'vroot: {!r}, vroot_path: {!r}'.format(
                        request.url,
                        request.path_info,
                        context,
                        view_name,
                        tdict['subpath'],
                        tdict['traversed'],
                        root,
                        tdict['virtual_root'],
                        tdict['virtual_root_path'],
                    )
                )
                if logger:
                    logger.debug(msg)
            else:
                msg = request.path_info
            raise HTTPNotFound(msg)
        return response

    def make_request(self, environ: dict[str, Any]) -> Any:
        """A request for ``environ``, with the app's request extensions."""
        request = self.request_factory(environ)
        self._prepare(request)
        return request

    def _prepare(self, request: Any) -> None:
        request.registry = self.registry
        request.invoke_subrequest = self._invoke_subrequest_from_sync
        if self.bind_async_methods:
            for name in ASYNC_METHOD_NAMES:
                method = getattr(AsyncRequestMethods, name)
                setattr(request, name, method.__get__(request))
            for name in ASYNC_PROPERTY_NAMES:
                setattr(request, name, getattr(AsyncRequestMethods, name).fget(request))
        extensions = self.request_extensions
        if extensions is not None:
            for name, method in extensions.methods.items():
                setattr(request, name, method.__get__(request, request.__class__))
            if extensions.descriptors:
                request.__class__ = self._extended_class(request.__class__)

    def _extended_class(self, request_class: type[Any]) -> type[Any]:
        """The request class with the app's request properties, made once.

        Pyramid's ``apply_request_extensions`` builds a new subclass for
        every request that has ``add_request_method(..., property=True)``
        or ``reify=True`` extensions (``request.db`` is one); the class only
        depends on the request factory's class, so it is made once here.
        Reified values still live in each request's own ``__dict__``.
        """
        extended = self._extended_classes.get(request_class)
        if extended is None:
            # Pyramid builds the class (and its interface declarations) on
            # a blank instance; every later request reuses it.
            blank = object.__new__(request_class)
            InstancePropertyHelper.apply_properties(
                blank, self.request_extensions.descriptors
            )
            extended = self._extended_classes[request_class] = type(blank)
        return extended

    def request_context(self, environ: dict[str, Any]) -> RequestContext:
        """Like Pyramid's: a context manager making the request current."""
        return RequestContext(self.make_request(environ))

    async def handle(self, environ: dict[str, Any]) -> Any:
        """Serve one WSGI ``environ``; return the response object.

        This is the entry point for servers.  Exceptions that no exception
        view handles propagate, as they do out of Pyramid's router.
        """
        request = self.make_request(environ)
        info = {'registry': self.registry, 'request': request}
        if type(manager) is not ContextLocalManager:
            # aiotao's include was left out: Pyramid's thread-local stack
            manager.push(info)
            try:
                return await self.invoke_request(request)
            finally:
                manager.pop()
        # what RequestContext(request) does, without its object and calls
        token = push_request(info)
        try:
            return await self.invoke_request(request)
        finally:
            pop_request(token)

    async def invoke_request(self, request: Any, _use_tweens: bool = True) -> Any:
        """Run ``request`` through tweens, the router and the callbacks."""
        registry = self.registry
        handle_request = (
            self.handle_request if _use_tweens else self.orig_handle_request
        )
        try:
            response = await handle_request(request)
            callbacks = request.response_callbacks
            while callbacks:
                result = callbacks.popleft()(request, response)
                if is_awaitable(result):
                    await result
            if registry.has_listeners and (
                subscribers := registry.adapters.subscriptions(_NEW_RESPONSE, None)
            ):
                await call_subscribers(subscribers, NewResponse(request, response))
            return response
        finally:
            await self.finish_request(request)

    async def finish_request(self, request: Any) -> None:
        """Run finished callbacks; they run even when the request was cancelled."""
        callbacks = request.finished_callbacks
        while callbacks:
            result = callbacks.popleft()(request)
            if is_awaitable(result):
                await result
        request.__dict__.pop('context', None)  # break a potential ref cycle

    async def invoke_subrequest(self, request: Any, use_tweens: bool = False) -> Any:
        """Async counterpart of ``request.invoke_subrequest``.

        In an async view::

            sub = Request.blank('/api/items')
            response = await request.invoke_subrequest_async(sub)
        """
        self._prepare(request)
        with RequestContext(request):
            return await self.invoke_request(request, _use_tweens=use_tweens)

    def _invoke_subrequest_from_sync(
        self, request: Any, use_tweens: bool = False
    ) -> Any:
        return call_soon_from_thread(
            lambda: self.invoke_subrequest(request, use_tweens=use_tweens),
            'request.invoke_subrequest_async(...)',
        )
