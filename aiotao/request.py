"""The request aiotao's router builds: Pyramid's, plus async counterparts.

:class:`AsyncRequestMethods` adds to the request::

    await request.identity_async()
    await request.authenticated_userid_async()
    await request.is_authenticated_async()
    await request.has_permission_async('edit', context=None)
    await request.invoke_subrequest_async(subrequest, use_tweens=False)
    await request.invoke_exception_view_async(exc_info=None, ...)

Pyramid's own ``request.invoke_exception_view`` reaches async exception
views too: from a sync view it waits for them (see
:mod:`aiotao.viewderivers`).  They are methods of the request class
rather than ``add_request_method`` extensions so that they cost nothing per
request; an application with its own request factory gets them bound per
request instead (see :class:`~aiotao.router.AsyncRouter`).
"""

from __future__ import annotations

import sys
from typing import Any

from pyramid.request import Request as PyramidRequest

from aiotao import security, view


class AsyncRequestMethods:
    """Async counterparts of Pyramid's request API."""

    registry: Any

    def identity_async(self) -> Any:
        """``await request.identity_async()``: the identity, from a sync or async policy."""
        return security.identity_async(self)

    def authenticated_userid_async(self) -> Any:
        return security.authenticated_userid_async(self)

    def is_authenticated_async(self) -> Any:
        return security.is_authenticated_async(self)

    def has_permission_async(self, permission: str, context: Any = None) -> Any:
        """``await request.has_permission_async('edit')``: ``Allowed`` or ``Denied``."""
        return security.has_permission_async(self, permission, context)

    def invoke_subrequest_async(self, request: Any, use_tweens: bool = False) -> Any:
        """Serve ``request`` as a subrequest through the async pipeline."""
        from aiotao.router import AsyncRouter

        # the router serving this request bound its invoke_subrequest to it
        router = getattr(self.__dict__.get('invoke_subrequest'), '__self__', None)
        if not isinstance(router, AsyncRouter):
            router = AsyncRouter.for_registry(self.registry)
        return router.invoke_subrequest(request, use_tweens=use_tweens)

    def invoke_exception_view_async(
        self,
        exc_info: Any = None,
        request: Any = None,
        secure: bool = True,
        reraise: bool = False,
    ) -> Any:
        """Async ``request.invoke_exception_view``, same arguments."""
        if exc_info is None:
            exc_info = sys.exc_info()
        target = request if request is not None else self
        return view.invoke_exception_view_async(target, exc_info, secure, reraise)

    @property
    def websocket_groups(self) -> Any:
        """The application's websocket groups: ``request.websocket_groups.broadcast(...)``."""
        from aiotao.websocket.groups import get_groups

        return get_groups(self.registry)

    @property
    def realtime(self) -> Any:
        """Send to a user or a connection: ``await request.realtime.send_to_user(...)``."""
        from aiotao.websocket.addresses import get_realtime

        return get_realtime(self.registry)


class Request(AsyncRequestMethods, PyramidRequest):  # type: ignore[misc]
    """Pyramid's request with aiotao's async counterparts."""


#: Names bound per request when the application has its own request factory.
ASYNC_METHOD_NAMES = (
    'identity_async',
    'authenticated_userid_async',
    'is_authenticated_async',
    'has_permission_async',
    'invoke_subrequest_async',
    'invoke_exception_view_async',
)

#: Properties given to such requests as plain attributes, per request.
ASYNC_PROPERTY_NAMES = ('websocket_groups', 'realtime')
