"""Security policies whose methods are ``async def``.

Real applications look identities and permissions up in a database, so
aiotao lets a security policy's ``identity``, ``authenticated_userid`` and
``permits`` be coroutines::

    class SecurityPolicy:
        async def identity(self, request):
            return await request.db.users.find_one({'token': ...})

        async def permits(self, request, context, permission):
            ...

Views protected with ``permission=`` await the policy (see
:mod:`aiotao.viewderivers`).  In view code use the async counterparts that
aiotao's request has: ``await request.identity_async()``,
``await request.authenticated_userid_async()``,
``await request.is_authenticated_async()`` and
``await request.has_permission_async('edit')`` (see :mod:`aiotao.request`).

Security fails closed.  On stock Pyramid ``request.has_permission('edit')``
with an async ``permits`` returns a coroutine object, which is truthy: every
check would *pass*.  aiotao wraps a registered policy that has async methods
in :class:`AsyncAwareSecurityPolicy` (a synchronous policy stays the object
the application registered), whose synchronous answers never let an
awaitable through: ``request.has_permission`` is then
:class:`~pyramid.security.Denied` and ``request.identity`` is ``None``, with a
:class:`RuntimeWarning` that names the async counterpart.
"""

from __future__ import annotations

import warnings
from typing import Any

from pyramid.config import Configurator
from pyramid.interfaces import PHASE2_CONFIG, ISecurityPolicy
from pyramid.registry import Registry
from pyramid.security import Allowed, Denied

from aiotao.awaitables import close_if_coroutine, is_awaitable
from aiotao.mappers.detection import is_async_callable


class AsyncAwareSecurityPolicy:
    """Wraps a security policy so sync callers never mistake an awaitable for an answer."""

    def __init__(self, policy: Any) -> None:
        self.wrapped = policy

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)

    def _refuse(self, result: Any, method: str, counterpart: str) -> None:
        close_if_coroutine(result)
        warnings.warn(
            f'{type(self.wrapped).__name__}.{method} is asynchronous, so the '
            f'synchronous request.{method} cannot wait for it and fails '
            f'closed; use "await request.{counterpart}" instead',
            RuntimeWarning,
            stacklevel=4,
        )

    def identity(self, request: Any) -> Any:
        result = self.wrapped.identity(request)
        if is_awaitable(result):
            self._refuse(result, 'identity', 'identity_async()')
            return None
        return result

    def authenticated_userid(self, request: Any) -> Any:
        result = self.wrapped.authenticated_userid(request)
        if is_awaitable(result):
            self._refuse(result, 'authenticated_userid', 'authenticated_userid_async()')
            return None
        return result

    def permits(self, request: Any, context: Any, permission: str) -> Any:
        result = self.wrapped.permits(request, context, permission)
        if is_awaitable(result):
            self._refuse(result, 'has_permission', 'has_permission_async(...)')
            return Denied(
                'Denied: the security policy is asynchronous; use '
                '"await request.has_permission_async(...)"'
            )
        return result

    def remember(self, request: Any, userid: Any, **kw: Any) -> Any:
        return self.wrapped.remember(request, userid, **kw)

    def forget(self, request: Any, **kw: Any) -> Any:
        return self.wrapped.forget(request, **kw)


def unwrapped_policy(registry: Registry) -> Any:
    """The application's own security policy, or ``None``."""
    policy = registry.queryUtility(ISecurityPolicy)
    if isinstance(policy, AsyncAwareSecurityPolicy):
        return policy.wrapped
    return policy


def is_async_policy(policy: Any) -> bool:
    """``True`` if one of the policy's answering methods is ``async def``."""
    return any(
        is_async_callable(getattr(policy, name, None))
        for name in ('identity', 'authenticated_userid', 'permits')
    )


def wrap_registered_policy(registry: Registry) -> None:
    """Wrap an async policy so that synchronous callers fail closed.

    A synchronous policy is left as it is: the registered object stays the
    application's own (Pyramid checks ``isinstance(policy,
    LegacySecurityPolicy)`` for authentication/authorization policies).
    """
    policy = registry.queryUtility(ISecurityPolicy)
    if (
        policy is not None
        and not isinstance(policy, AsyncAwareSecurityPolicy)
        and is_async_policy(policy)
    ):
        registry.registerUtility(AsyncAwareSecurityPolicy(policy), ISecurityPolicy)


def as_answer(result: Any) -> Any:
    """An awaited ``permits`` result; one that is *still* awaitable is a denial."""
    if is_awaitable(result):
        close_if_coroutine(result)
        return Denied('Denied: permits() returned an awaitable, not an answer')
    return result


async def permits(policy: Any, request: Any, context: Any, permission: str) -> Any:
    """Await ``policy.permits`` if it is async; never allow on an awaitable."""
    result = policy.permits(request, context, permission)
    if is_awaitable(result):
        result = await result
    return as_answer(result)


async def identity_async(request: Any) -> Any:
    """The current identity, awaiting an async policy; ``None`` without one."""
    policy = unwrapped_policy(request.registry)
    if policy is None:
        return None
    result = policy.identity(request)
    return await result if is_awaitable(result) else result


async def authenticated_userid_async(request: Any) -> Any:
    """The authenticated userid, awaiting an async policy."""
    policy = unwrapped_policy(request.registry)
    if policy is None:
        return None
    result = policy.authenticated_userid(request)
    return await result if is_awaitable(result) else result


async def is_authenticated_async(request: Any) -> bool:
    return await authenticated_userid_async(request) is not None


async def has_permission_async(
    request: Any, permission: str, context: Any = None
) -> Any:
    """``Allowed`` or ``Denied`` for ``permission``, awaiting an async policy."""
    if context is None:
        context = request.context
    policy = unwrapped_policy(request.registry)
    if policy is None:
        return Allowed('No security policy in use.')
    return await permits(policy, request, context, permission)


def includeme(config: Configurator) -> None:
    # After set_security_policy (PHASE2) and before views are derived.
    config.action(
        ('aiotao', 'wrap security policy'),
        lambda: wrap_registered_policy(config.registry),
        order=PHASE2_CONFIG + 1,
    )
