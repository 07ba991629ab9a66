"""What a server serves: a Pyramid app on the loop, or any WSGI app in threads.

PasteDeploy (``gunicorn --paste``, ``pserve``) hands a server a WSGI
callable.  :func:`served_application` looks at it:

* a Pyramid router (it has a ``registry``) is served natively on the event
  loop through :class:`~aiotao.router.AsyncRouter` (:class:`PyramidApplication`);
* anything else (a Flask app, a Pyramid app wrapped in WSGI middleware) runs
  in the loop's thread pool, one request per thread, as under a threaded WSGI
  server (:class:`ThreadedWSGIApplication`).

Both answer ``await app.respond(environ)`` with a started
:class:`~aiotao.serving.responses.WSGIResponse`; :func:`respond` adds what a
server needs around it: an unhandled exception is logged and becomes a 500,
and the worker goes on.  Cancellation (the client went away) is never caught
here: :class:`asyncio.CancelledError` reaches the server, and the router
still runs finished callbacks on its way out.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from pyramid.registry import Registry

from aiotao.router import AsyncRouter
from aiotao.serving.errors import internal_error_response, unhandled_request_error
from aiotao.serving.responses import Environ, WSGIApplication, WSGIResponse, run_wsgi

log = logging.getLogger(__name__)


class ErrorLog(Protocol):
    """Where application errors are logged: a Logger, or gunicorn's log."""

    def exception(self, msg: str, *args: Any, **kwargs: Any) -> None: ...


class PyramidApplication:
    """A Pyramid application served through its :class:`AsyncRouter`."""

    def __init__(self, router: AsyncRouter) -> None:
        self.router = router
        self.registry: Registry | None = router.registry

    def __repr__(self) -> str:
        return f'<PyramidApplication {self.registry!r}>'

    async def respond(self, environ: Environ) -> WSGIResponse:
        response = await self.router.handle(environ)
        return run_wsgi(response, environ)


class ThreadedWSGIApplication:
    """A plain WSGI application, called in the loop's thread pool."""

    registry: Registry | None = None

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __repr__(self) -> str:
        return f'<ThreadedWSGIApplication {self.app!r}>'

    async def respond(self, environ: Environ) -> WSGIResponse:
        # to_thread copies contextvars, as for aiotao's sync views
        return await asyncio.to_thread(run_wsgi, self.app, environ)


ServedApplication = PyramidApplication | ThreadedWSGIApplication


def served_application(app: Any) -> ServedApplication:
    """Wrap what PasteDeploy loaded, choosing how to run it.

    >>> from pyramid.config import Configurator
    >>> config = Configurator(); config.include('aiotao')
    >>> served_application(config.make_wsgi_app())  # doctest: +ELLIPSIS
    <PyramidApplication ...>
    >>> served_application(lambda environ, start_response: [])  # doctest: +ELLIPSIS
    <ThreadedWSGIApplication ...>
    """
    if isinstance(app, PyramidApplication | ThreadedWSGIApplication):
        return app
    if isinstance(getattr(app, 'registry', None), Registry):
        return PyramidApplication(AsyncRouter.from_wsgi_app(app))
    if not callable(app):
        raise TypeError(f'{app!r} is neither a Pyramid nor a WSGI application')
    return ThreadedWSGIApplication(app)


async def respond(
    app: ServedApplication, environ: Environ, error_log: ErrorLog = log
) -> WSGIResponse:
    """The application's response; a 500 if it raised (and a log entry).

    A request the application could not decode (a path that is not UTF-8)
    gets a 400 instead, unless an exception view answered it
    (:func:`~aiotao.serving.errors.unhandled_request_error`).
    """
    try:
        return await app.respond(environ)
    except Exception as exc:
        refused = unhandled_request_error(exc, environ)  # e.g. a non-UTF-8 path
        if refused is not None:
            return refused
        log_failure(error_log, environ)
        return internal_error_response()


def prepare_response(
    response: Any, environ: Environ, error_log: ErrorLog = log
) -> WSGIResponse:
    """:func:`run_wsgi` on a response the pipeline returned; a 500 if it fails.

    For servers holding a response already (a refused websocket handshake).
    """
    try:
        return run_wsgi(response, environ)
    except Exception:
        log_failure(error_log, environ)
        return internal_error_response()


def log_failure(error_log: ErrorLog, environ: Environ) -> None:
    """Log the exception being handled as the failure of ``environ``'s request."""
    error_log.exception(
        'Error handling request %s %s', environ.get('REQUEST_METHOD'), _target(environ)
    )


def _target(environ: Environ) -> str:
    """The request target, for logs (``RAW_URI`` is aiotao's and gunicorn's)."""
    raw_uri = environ.get('RAW_URI')
    if raw_uri:
        return str(raw_uri)
    query = environ.get('QUERY_STRING')
    path = environ.get('SCRIPT_NAME', '') + environ.get('PATH_INFO', '')
    return f'{path}?{query}' if query else path
