"""What a server serves: a Pyramid app on the loop, or any WSGI app in threads.

PasteDeploy (``gunicorn --paste``, ``pserve``) hands a server a WSGI
callable.  :func:`served_application` looks at it:

* a Pyramid application that includes aiotao is served natively on the
  event loop through :class:`~aiotao.router.AsyncRouter`
  (:class:`PyramidApplication`);
* anything else — a Pyramid application that does not include aiotao, a
  Flask app, an app wrapped in WSGI middleware — runs one request per
  thread, all of its synchronous work in that one thread, exactly as under
  a threaded WSGI server (:class:`ThreadedWSGIApplication`).  An aiotao
  application inside middleware still sends its async parts to the
  worker's loop from there (:mod:`aiotao.sync`).

Both answer ``await app.respond(environ)`` with a started
:class:`~aiotao.serving.responses.WSGIResponse`; :func:`respond` adds what a
server needs around it: an unhandled exception is logged and becomes a 500,
and the worker goes on.  Cancellation (the client went away) is never caught
here: :class:`asyncio.CancelledError` reaches the server, and the router
still runs finished callbacks on its way out.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from pyramid.registry import Registry

from aiotao.config import includes_aiotao
from aiotao.router import DEFAULT_THREAD_POOL_SIZE, AsyncRouter
from aiotao.serving.errors import internal_error_response
from aiotao.serving.responses import Environ, WSGIApplication, WSGIResponse, run_wsgi
from aiotao.threads import Lane, ThreadPool, current_lane

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
    """A WSGI application called in a thread of its own for each request."""

    def __init__(
        self,
        app: WSGIApplication,
        registry: Registry | None = None,
        threads: int = DEFAULT_THREAD_POOL_SIZE,
    ) -> None:
        self.app = app
        #: The registry of a Pyramid application, for its settings and events.
        self.registry = registry
        self.threads = ThreadPool(threads, name='aiotao-wsgi')

    def __repr__(self) -> str:
        return f'<ThreadedWSGIApplication {self.app!r}>'

    async def respond(self, environ: Environ) -> WSGIResponse:
        # The request's thread: an aiotao app inside the middleware finds it
        # (and the loop) there, as its sync views would.
        lane = Lane(self.threads)
        token = current_lane.set(lane)
        try:
            return await lane.run(run_wsgi, self.app, environ)
        finally:
            current_lane.reset(token)
            lane.release()


ServedApplication = PyramidApplication | ThreadedWSGIApplication


def served_application(app: Any) -> ServedApplication:
    """Wrap what PasteDeploy loaded, choosing how to run it.

    >>> from pyramid.config import Configurator
    >>> config = Configurator(); config.include('aiotao')
    >>> served_application(config.make_wsgi_app())  # doctest: +ELLIPSIS
    <PyramidApplication ...>
    >>> served_application(lambda environ, start_response: [])  # doctest: +ELLIPSIS
    <ThreadedWSGIApplication ...>
    >>> served_application(Configurator().make_wsgi_app())  # doctest: +ELLIPSIS
    <ThreadedWSGIApplication <pyramid.router.Router ...>>
    """
    if isinstance(app, PyramidApplication | ThreadedWSGIApplication):
        return app
    registry = getattr(app, 'registry', None)
    if isinstance(registry, Registry) and includes_aiotao(registry):
        return PyramidApplication(AsyncRouter.from_wsgi_app(app))
    if not callable(app):
        raise TypeError(f'{app!r} is neither a Pyramid nor a WSGI application')
    if isinstance(registry, Registry):
        # a Pyramid app without aiotao: Pyramid's own router, in threads
        settings = registry.settings or {}
        size = int(settings.get('aiotao.thread_pool_size') or DEFAULT_THREAD_POOL_SIZE)
        return ThreadedWSGIApplication(app, registry, size)
    return ThreadedWSGIApplication(app)


async def respond(
    app: ServedApplication, environ: Environ, error_log: ErrorLog = log
) -> WSGIResponse:
    """The application's response; a 500 if it raised (and a log entry)."""
    try:
        return await app.respond(environ)
    except Exception:
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
