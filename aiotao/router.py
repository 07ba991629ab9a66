"""The async request pipeline: Pyramid's router, awaiting where it may.

:class:`AsyncRouter` is built from a Pyramid application
(``config.make_wsgi_app()``) and does what ``pyramid.router.Router`` does
(NewRequest, route matching, BeforeTraversal, traversal, ContextFound,
view lookup and call, response callbacks, NewResponse, finished callbacks)
with every step that calls user code written as a pipeline step
(:mod:`aiotao.pipeline`).  The steps run on the event loop, where async
code is awaited and synchronous code goes to the request's thread
(:mod:`aiotao.threads`), or in the request's thread itself, below a
synchronous tween or under a synchronous execution policy, exactly as
Pyramid runs them.  Servers use it through :meth:`AsyncRouter.handle`::

    router = AsyncRouter.from_wsgi_app(config.make_wsgi_app())
    response = await router.handle(environ)

The same object serves aiotao's gunicorn worker, the ASGI adapter and
plain WSGI servers (:mod:`aiotao.execution`).  It honours the app's
execution policy: Pyramid's default one and pyramid_retry's run natively
on the loop; any other runs in the request's thread.
"""

from __future__ import annotations

import weakref
from collections.abc import Coroutine
from typing import Any

from pyramid.events import BeforeTraversal, ContextFound, NewRequest, NewResponse
from pyramid.httpexceptions import HTTPNotFound
from pyramid.interfaces import (
    IDebugLogger,
    IExecutionPolicy,
    IRequest,
    IRequestExtensions,
    IRequestFactory,
    IRootFactory,
    IRouteRequest,
    IRoutesMapper,
    ITraverser,
)
from pyramid.registry import Registry
from pyramid.request import Request as PyramidRequest
from pyramid.router import default_execution_policy
from pyramid.threadlocal import RequestContext, manager
from pyramid.traversal import DefaultRootFactory
from pyramid.util import InstancePropertyHelper
from zope.interface import implementedBy, implementer, providedBy

from aiotao.interfaces import IAsyncRouter
from aiotao.pipeline import Call, Steps, run_in_thread, run_on_loop
from aiotao.request import (
    ASYNC_METHOD_NAMES,
    ASYNC_PROPERTY_NAMES,
    AsyncRequestMethods,
)
from aiotao.request import Request as AsyncRequest
from aiotao.retry import RetryOptions, retry_options, serve_with_retries
from aiotao.security import wrap_registered_policy
from aiotao.settings import read_setting, whole_number
from aiotao.sync import on_loop_thread, serving_requests
from aiotao.threadlocal import ContextLocalManager, pop_request, push_request
from aiotao.threads import Lane, ThreadPool, current_lane
from aiotao.traversal import AsyncResourceTreeTraverser
from aiotao.tweens import EnterLink, Link, build_tween_chain
from aiotao.view import view_steps
from aiotao.websocket.transport import TRANSPORT_ENVIRON_KEY

_NEW_REQUEST = (implementedBy(NewRequest),)
_BEFORE_TRAVERSAL = (implementedBy(BeforeTraversal),)
_CONTEXT_FOUND = (implementedBy(ContextFound),)
_NEW_RESPONSE = (implementedBy(NewResponse),)

#: Threads for requests' synchronous code, per application.
DEFAULT_THREAD_POOL_SIZE = 32

# One AsyncRouter per Pyramid application object: making the app again (or
# adding tweens and making it again) gives a new one, as with Pyramid.
_routers: weakref.WeakKeyDictionary[Any, AsyncRouter] = weakref.WeakKeyDictionary()


@implementer(IAsyncRouter)
class AsyncRouter:
    """Routes requests to views on an event loop, awaiting async parts."""

    debug_notfound = False
    debug_routematch = False

    def __init__(self, registry: Registry, app: Any = None) -> None:
        q = registry.queryUtility
        self.registry = registry
        #: The Pyramid router this one serves, when made from one.
        self.app = app
        self.logger = q(IDebugLogger)
        self.root_factory = q(IRootFactory, default=DefaultRootFactory)
        self.routes_mapper = q(IRoutesMapper)
        self.request_factory = q(IRequestFactory)
        if self.request_factory is None:
            self.request_factory = AsyncRequest
        #: A ``finish_request`` set on the Pyramid router itself, which wins.
        self._finish_request_override: Any = None
        self.request_extensions = q(IRequestExtensions)
        self._extended_classes: dict[type[Any], type[Any]] = {}
        settings = registry.settings
        if settings is not None:
            self.debug_notfound = settings['debug_notfound']
            self.debug_routematch = settings['debug_routematch']
        if app is not None:
            self._take_app_attributes(app)
        # An app's own request class gets the async methods bound per request.
        self.bind_async_methods = (
            not issubclass(self.request_factory, AsyncRequestMethods)
            if isinstance(self.request_factory, type)
            else True
        )
        self.threads = ThreadPool(
            read_setting(
                settings or {},
                'aiotao.thread_pool_size',
                DEFAULT_THREAD_POOL_SIZE,
                whole_number(1),
                'a whole number of threads',
            )
        )
        self.execution_policy = _app_execution_policy(registry)
        self.retry: RetryOptions | None = retry_options(self.execution_policy)
        # A policy set in a later commit than aiotao's include is wrapped here.
        wrap_registered_policy(registry)
        self.main = Link(
            'router', self._handle_request_on_loop, self._handle_request_in_thread
        )
        self.chain = build_tween_chain(self.main, registry)
        # Pyramid's names: the chain's entry and the router's own handler
        self.handle_request = self.chain.call_async
        self.orig_handle_request = self.main.call_async

    def __repr__(self) -> str:
        return f'<AsyncRouter {self.registry!r}>'

    def _take_app_attributes(self, app: Any) -> None:
        """What was set on the Pyramid router after it was made wins, as there."""
        for name in (
            'logger',
            'root_factory',
            'routes_mapper',
            'request_extensions',
            'debug_notfound',
            'debug_routematch',
        ):
            if name in vars(app):
                setattr(self, name, vars(app)[name])
        factory = vars(app).get('request_factory')
        if factory is not None and factory is not PyramidRequest:
            self.request_factory = factory
        if 'finish_request' in vars(app):
            self._finish_request_override = app.finish_request

    @classmethod
    def from_wsgi_app(cls, app: Any) -> AsyncRouter:
        """The async router of a Pyramid WSGI app (``config.make_wsgi_app()``).

        Made once per application object.  Raises :class:`TypeError` for a
        WSGI app that is not Pyramid's: such an app has no registry to route
        with (serve it in a thread pool).
        """
        registry = getattr(app, 'registry', None)
        if not isinstance(registry, Registry):
            raise TypeError(
                f'{app!r} is not a Pyramid application (it has no registry); '
                f'aiotao serves other WSGI applications in a thread pool'
            )
        router = _routers.get(app)
        if router is None:
            router = _routers[app] = cls(registry, app)
        return router

    @classmethod
    def for_registry(cls, registry: Registry) -> AsyncRouter:
        """A router for code that has a registry but not the application.

        It is made afresh from the registry's current configuration.
        """
        return cls(registry)

    # -- serving ---------------------------------------------------------

    async def handle(self, environ: dict[str, Any]) -> Any:
        """Serve one WSGI ``environ``; return the response object.

        This is the entry point for servers.  Exceptions that no exception
        view handles propagate, as they do out of Pyramid's router.
        """
        if current_lane.get() is not None:
            # a thread serves this request already (a WSGI server's)
            return await self._execute(environ)
        lane = Lane(self.threads)
        token = current_lane.set(lane)
        try:
            if (
                self.execution_policy is default_execution_policy
                and type(manager) is ContextLocalManager
            ):
                # serve(), inlined for the common case: a coroutine less
                request = self.make_request(environ)
                pushed = push_request({'registry': self.registry, 'request': request})
                try:
                    return await run_on_loop(self.invoke_request_steps(request))
                finally:
                    pop_request(pushed)
            return await self._execute(environ)
        finally:
            current_lane.reset(token)
            lane.release()

    async def _execute(self, environ: dict[str, Any]) -> Any:
        """Apply the application's execution policy to ``environ``."""
        policy = self.execution_policy
        if policy is default_execution_policy or TRANSPORT_ENVIRON_KEY in environ:
            # A websocket session lasts as long as its connection: it never
            # holds a thread for a synchronous policy, nor is it retried.
            return await self.serve(environ)
        if self.retry is not None:
            return await serve_with_retries(self, environ, self.retry)
        lane = current_lane.get()
        assert lane is not None
        return await lane.run(policy, environ, SyncRouter(self))

    async def serve(self, environ: dict[str, Any]) -> Any:
        """Pyramid's default execution policy, on the loop."""
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
            return await run_on_loop(self.invoke_request_steps(request))
        finally:
            pop_request(token)

    async def invoke_request(self, request: Any, _use_tweens: bool = True) -> Any:
        """Run ``request`` through tweens, the router and the callbacks."""
        return await run_on_loop(self.invoke_request_steps(request, _use_tweens))

    def invoke_request_in_thread(self, request: Any, _use_tweens: bool = True) -> Any:
        """:meth:`invoke_request` for the request's thread (Pyramid's signature)."""
        return run_in_thread(self.invoke_request_steps(request, _use_tweens))

    # -- the pipeline's steps ----------------------------------------------

    def invoke_request_steps(self, request: Any, use_tweens: bool = True) -> Steps[Any]:
        """Tweens and router, response callbacks, NewResponse; finished callbacks."""
        registry = self.registry
        try:
            response = yield EnterLink(self.chain if use_tweens else self.main, request)
            callbacks = request.response_callbacks
            while callbacks:
                yield Call(callbacks.popleft(), request, response)
            if registry.has_listeners and (
                subscribers := registry.adapters.subscriptions(_NEW_RESPONSE, None)
            ):
                yield from _notify(subscribers, NewResponse(request, response))
            return response
        finally:
            yield from self.finish_request_steps(request)

    def finish_request_steps(self, request: Any) -> Steps[None]:
        """Finished callbacks; they run even when the request was cancelled."""
        if self._finish_request_override is not None:
            yield Call(self._finish_request_override, request)
            return
        callbacks = request.finished_callbacks
        while callbacks:
            yield Call(callbacks.popleft(), request)
        request.__dict__.pop('context', None)  # break a potential ref cycle

    async def finish_request(self, request: Any) -> None:
        await run_on_loop(self.finish_request_steps(request))

    def _handle_request_on_loop(self, request: Any) -> Coroutine[Any, Any, Any]:
        # the driver's coroutine itself: no frame of this method's in between
        return run_on_loop(self.handle_request_steps(request))

    def _handle_request_in_thread(self, request: Any) -> Any:
        return run_in_thread(self.handle_request_steps(request))

    def handle_request_steps(self, request: Any) -> Steps[Any]:
        """Find the context and the view for ``request`` and call it (MAIN)."""
        attrs = request.__dict__
        registry = attrs['registry']
        request.request_iface = IRequest
        has_listeners = registry.has_listeners
        subscriptions = registry.adapters.subscriptions
        # Looking subscribers up by event class first spares requests the
        # event objects when nothing listens to that event.
        if has_listeners and (subscribers := subscriptions(_NEW_REQUEST, None)):
            yield from _notify(subscribers, NewRequest(request))
        root_factory = self._match_route(request, attrs)
        if has_listeners and (subscribers := subscriptions(_BEFORE_TRAVERSAL, None)):
            yield from _notify(subscribers, BeforeTraversal(request))

        if root_factory is DefaultRootFactory:
            root = DefaultRootFactory(request)
        else:
            root = yield Call(root_factory, request)
        attrs['root'] = root

        traverser = registry.adapters.queryAdapter(root, ITraverser)
        if traverser is None:
            tdict = yield from AsyncResourceTreeTraverser(root).steps(request)
        else:
            tdict = yield Call(traverser, request)
        attrs.update(tdict)
        context = tdict['context']
        view_name = tdict['view_name']

        if has_listeners and (subscribers := subscriptions(_CONTEXT_FOUND, None)):
            yield from _notify(subscribers, ContextFound(request))

        response = yield from view_steps(
            registry, request, context, providedBy(context), view_name
        )
        if response is None:
            raise HTTPNotFound(self._not_found_message(request, root, tdict))
        return response

    def _match_route(self, request: Any, attrs: dict[str, Any]) -> Any:
        """Route matching, as Pyramid's router does it; the root factory to use."""
        routes_mapper = self.routes_mapper
        if routes_mapper is None:
            return self.root_factory
        logger = self.logger
        info = routes_mapper(request)
        match, route = info['match'], info['route']
        if route is None:
            if self.debug_routematch and logger:
                logger.debug(f'no route matched for url {request.url}')
            return self.root_factory
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
        request.request_iface = self.registry.queryUtility(
            IRouteRequest, name=route.name, default=IRequest
        )
        return route.factory or self.root_factory

    def _not_found_message(self, request: Any, root: Any, tdict: dict[str, Any]) -> str:
        if not self.debug_notfound:
            return str(request.path_info)
        msg = (
            'debug_notfound of url {}; path_info: {!r}, context: {!r}, '
            'view_name: {!r}, subpath: {!r}, traversed: {!r}, root: {!r}, '
            'vroot: {!r}, vroot_path: {!r}'.format(
                request.url,
                request.path_info,
                tdict['context'],
                tdict['view_name'],
                tdict['subpath'],
                tdict['traversed'],
                root,
                tdict['virtual_root'],
                tdict['virtual_root_path'],
            )
        )
        if self.logger:
            self.logger.debug(msg)
        return msg

    # -- requests ----------------------------------------------------------

    def make_request(self, environ: dict[str, Any]) -> Any:
        """A request for ``environ``, with the app's request extensions."""
        request = self.request_factory(environ)
        self._prepare(request)
        return request

    def _prepare(self, request: Any) -> None:
        request.registry = self.registry
        request.invoke_subrequest = self.invoke_subrequest_in_thread
        if self.bind_async_methods:
            for name in ASYNC_METHOD_NAMES:
                method = getattr(AsyncRequestMethods, name)
                setattr(request, name, method.__get__(request))
            for name in ASYNC_PROPERTY_NAMES:
                try:
                    value = getattr(AsyncRequestMethods, name).fget(request)
                except LookupError:
                    # the service it serves was never included (an app
                    # without aiotao.websocket): nothing to bind
                    continue
                setattr(request, name, value)
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

    # -- subrequests ---------------------------------------------------------

    async def invoke_subrequest(self, request: Any, use_tweens: bool = False) -> Any:
        """Async counterpart of ``request.invoke_subrequest``.

        In an async view::

            sub = Request.blank('/api/items')
            response = await request.invoke_subrequest_async(sub)
        """
        self._prepare(request)
        with RequestContext(request):
            return await self.invoke_request(request, _use_tweens=use_tweens)

    def invoke_subrequest_in_thread(
        self, request: Any, use_tweens: bool = False
    ) -> Any:
        """``request.invoke_subrequest``: Pyramid's, from synchronous code."""
        if on_loop_thread():
            raise RuntimeError(
                'request.invoke_subrequest() waits for the subrequest, and the '
                'event loop is running in this thread: use "await '
                'request.invoke_subrequest_async(subrequest)" instead'
            )
        self._prepare(request)
        with serving_requests(), RequestContext(request):
            return self.invoke_request_in_thread(request, _use_tweens=use_tweens)


class SyncRouter:
    """The router a synchronous execution policy gets (pyramid_retry's, say).

    Pyramid's router API (``request_context``, ``invoke_request``...), run
    by aiotao in the request's thread.
    """

    def __init__(self, router: AsyncRouter) -> None:
        self.router = router
        self.registry = router.registry

    def request_context(self, environ: dict[str, Any]) -> RequestContext:
        return self.router.request_context(environ)

    def invoke_request(self, request: Any, _use_tweens: bool = True) -> Any:
        return self.router.invoke_request_in_thread(request, _use_tweens)

    def __getattr__(self, name: str) -> Any:
        # anything else a policy may use: Pyramid's router's
        return getattr(self.router.app, name)


def _notify(subscribers: Any, event: Any) -> Steps[None]:
    for subscriber in subscribers:
        yield Call(subscriber, event)


def _app_execution_policy(registry: Registry) -> Any:
    """The application's own execution policy (aiotao's wrapper taken off)."""
    policy = registry.queryUtility(IExecutionPolicy, default=default_execution_policy)
    return getattr(policy, 'wrapped_policy', policy)
