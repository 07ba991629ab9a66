"""Per-message permissions: ``permission=`` on a message handler.

A :class:`~aiotao.websocket.MessageRouter` handler added with
``permission='post'`` runs only if the application's security policy
permits ``'post'`` on the connection's context (the handshake's
``request.context``), exactly as ``permission=`` on a view, async policies
included::

    @router.on('post', permission='post')
    async def post(ws, message: Post): ...

A refused message gets ``{"type": "error", "code": "forbidden", ...}`` and
the connection stays open.

**The identity is read again for every such message**, not taken from the
handshake: the session is re-read first (:func:`aiotao.sessions.reload_session`),
then the policy is asked.  With :mod:`aiotao.sessions` (sessions kept on
the server) a logout in another tab, on another worker, or a session that
expired, is seen by the connection's next message.  A session kept in a
signed cookie cannot be: the connection only ever has the cookie its
handshake sent (see :mod:`aiotao.sessions` for why, and for what a login
made after the handshake does).
"""

from __future__ import annotations

from typing import Any

from aiotao.security import permits, unwrapped_policy
from aiotao.sessions import reload_session

__all__ = ['FORBIDDEN', 'check_permission']

#: The error code of a message refused by its handler's permission.
FORBIDDEN = 'forbidden'


async def check_permission(request: Any, permission: str) -> Any:
    """``Allowed``/``Denied`` for ``permission`` with the identity as it is now.

    A connection without a request (a handler called by hand) is refused:
    authorization fails closed.
    """
    from pyramid.security import Allowed, Denied

    if request is None or getattr(request, 'registry', None) is None:
        return Denied('no request to check the permission against')
    policy = unwrapped_policy(request.registry)
    if policy is None:
        return Allowed('No security policy in use.')
    await reload_session(request)
    context = getattr(request, 'context', None)
    return await permits(policy, request, context, permission)
