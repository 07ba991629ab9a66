"""The execution policy aiotao composes with the application's own.

Pyramid calls an application's execution policy (``IExecutionPolicy``) for
each WSGI request; add-ons set their own (pyramid_retry does).  aiotao
does not replace it: at the end of each commit it wraps whatever policy is
registered in :class:`AsyncExecutionPolicy`, in either include order and
whoever set it.  Then:

* under a plain WSGI server (``pserve`` with waitress, WebTest), the
  wrapper runs the application's policy in the server's thread, with
  aiotao's router as the router it drives: the request's synchronous parts
  run in that thread, as under Pyramid, and its async parts on aiotao's
  background loop while the thread waits (:mod:`aiotao.sync`);
* under aiotao's servers, :class:`~aiotao.router.AsyncRouter` reads the
  application's policy through :attr:`AsyncExecutionPolicy.wrapped_policy`
  and applies it itself (:mod:`aiotao.router`, :mod:`aiotao.retry`).

Websocket views need an async server; under WSGI they answer 501 (see
:mod:`aiotao.websocket`).
"""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.interfaces import IExecutionPolicy
from pyramid.router import default_execution_policy

from aiotao.router import AsyncRouter, SyncRouter
from aiotao.sync import on_loop_thread, run_in_helper_thread, serving_requests

#: After every action of a commit, set_execution_policy's included.
WRAP_ORDER = 1000


class AsyncExecutionPolicy:
    """The application's execution policy, run on aiotao's router."""

    def __init__(self, wrapped_policy: Any) -> None:
        #: The application's own policy (Pyramid's default one, pyramid_retry's...).
        self.wrapped_policy = wrapped_policy

    def __repr__(self) -> str:
        return f'<AsyncExecutionPolicy of {self.wrapped_policy!r}>'

    def __call__(self, environ: dict[str, Any], router: Any) -> Any:
        if on_loop_thread():
            # a WSGI call from a loop's thread (WebTest in an async test):
            # the request needs a thread of its own, free to wait
            return run_in_helper_thread(self, environ, router)
        sync_router = SyncRouter(AsyncRouter.from_wsgi_app(router))
        with serving_requests():
            return self.wrapped_policy(environ, sync_router)


def wrap_execution_policy(config: Configurator) -> None:
    """Wrap the registered policy (or Pyramid's default) once per commit."""
    registry = config.registry
    policy = registry.queryUtility(IExecutionPolicy, default=default_execution_policy)
    if not isinstance(policy, AsyncExecutionPolicy):
        registry.registerUtility(AsyncExecutionPolicy(policy), IExecutionPolicy)


def includeme(config: Configurator) -> None:
    config.action(
        ('aiotao', 'wrap execution policy'),
        lambda: wrap_execution_policy(config),
        order=WRAP_ORDER,
    )
