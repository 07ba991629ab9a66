"""Context-local ``get_current_request()`` and ``get_current_registry()``.

Pyramid keeps the current request and registry in
``pyramid.threadlocal.manager``, one :class:`threading.local`.  On an event loop
thousands of requests interleave on one thread, so a thread-local would let one
request see another's.  :func:`install` keeps the very same ``manager``
instance (other Pyramid modules imported it by name) and switches its class to
:class:`ContextLocalManager`, whose stack lives in a :class:`~contextvars.ContextVar`.

Each asyncio task runs in a copy of the context it was created in, and each
thread starts with its own, so the stack is per request on the loop and still
per thread under a WSGI server.  The stack is an immutable tuple: a task that
pushes never changes what its parent or its siblings see.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any

from pyramid import threadlocal

Info = dict[str, Any]

_stack: contextvars.ContextVar[tuple[Info, ...]] = contextvars.ContextVar(
    'aiotao.threadlocal.stack', default=()
)


class ContextLocalManager(threadlocal.ThreadLocalManager):  # type: ignore[misc]
    """A drop-in for :class:`pyramid.threadlocal.ThreadLocalManager`.

    Same methods, same results, but the stack belongs to the current
    :mod:`contextvars` context instead of the current thread.
    """

    default: Callable[[], Info]

    def __init__(self, default: Callable[[], Info] | None = None) -> None:
        # threading.local runs __init__ again in every new thread.  It must
        # not reset the stack: a thread running a copied context (a sync
        # view in the executor) has to see the request it was copied with.
        self.default = default  # type: ignore[assignment]

    def push(self, info: Info) -> None:
        _stack.set((*_stack.get(), info))

    set = push  # Pyramid's backwards-compatible alias

    def pop(self) -> Info | None:
        stack = _stack.get()
        if not stack:
            return None
        _stack.set(stack[:-1])
        return stack[-1]

    def get(self) -> Info:
        stack = _stack.get()
        if stack:
            return stack[-1]
        return self.default()

    def clear(self) -> None:
        _stack.set(())

    @property  # type: ignore[override]
    def stack(self) -> list[Info]:
        # Read-only view for code that peeks at ``manager.stack``.
        return list(_stack.get())

    @stack.setter
    def stack(self, value: list[Info]) -> None:
        _stack.set(tuple(value))


def push_request(info: Info) -> contextvars.Token[tuple[Info, ...]]:
    """Make ``info`` current in this context; undo with :func:`pop_request`.

    What ``manager.push(info)`` does, for the router's every request: a
    method call on ``manager`` goes through :class:`threading.local`'s
    attribute lookup, which costs more than the push itself.

    >>> token = push_request({'request': 'r', 'registry': None})
    >>> ContextLocalManager().get()['request']
    'r'
    >>> pop_request(token); ContextLocalManager().stack
    []
    """
    return _stack.set((*_stack.get(), info))


def pop_request(token: contextvars.Token[tuple[Info, ...]]) -> None:
    """Restore the stack :func:`push_request` changed."""
    _stack.reset(token)


def install() -> None:
    """Make Pyramid's existing ``manager`` context-local (idempotent)."""
    manager = threadlocal.manager
    if isinstance(manager, ContextLocalManager):
        return
    # Carry over whatever this thread had pushed already (pyramid.testing.setUp).
    pushed = list(manager.stack)
    manager.__class__ = ContextLocalManager
    for info in pushed:
        manager.push(info)


def is_installed() -> bool:
    return isinstance(threadlocal.manager, ContextLocalManager)
