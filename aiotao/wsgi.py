"""Serving async views from a plain WSGI server.

``config.make_wsgi_app()`` stays Pyramid's router; aiotao only registers an
execution policy for it (:func:`async_execution_policy`).  Each request is
then run through the :class:`~aiotao.router.AsyncRouter` on a private event
loop of the server's worker thread, so an app with ``async def`` views works
under ``pserve`` + waitress, WebTest or any other WSGI server: it is never
broken by the server it is put on.  Each thread serves one request at a
time there, as WSGI does; the concurrency comes with aiotao's worker.

Websocket views need an async server; under WSGI they answer 501 (see
:mod:`aiotao.websocket`).
"""

from __future__ import annotations

from typing import Any

from aiotao.router import AsyncRouter
from aiotao.sync import run_in_thread_loop


def async_execution_policy(environ: dict[str, Any], router: Any) -> Any:
    """Pyramid ``IExecutionPolicy``: run the request on the async pipeline."""
    async_router = AsyncRouter.for_registry(router.registry)
    return run_in_thread_loop(async_router.handle(environ))
