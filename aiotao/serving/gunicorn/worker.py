"""aiotao's gunicorn worker: one event loop per process, no greenlets.

Use it with ``worker_class = aiotao.serving.gunicorn.Worker`` (the project's
``gunicorn.conf.py`` sets it), then ``gunicorn --paste development.ini``.
A Pyramid application is served on the loop through
:class:`~aiotao.router.AsyncRouter`; any other WSGI application runs in the
loop's thread pool (``aiotao.thread_pool_size`` threads, 32 by default,
which is also where sync views run).

The lifecycle is aiohttp's ``GunicornWebWorker``'s:

* the loop is created in :meth:`~AsyncGunicornWorker.init_process`, after the
  fork and before gunicorn loads the application; uvloop is used with
  gunicorn's ``asgi_loop = uvloop`` setting (``--asgi-loop uvloop``) or
  with ``worker_class = aiotao.serving.gunicorn.worker.AsyncGunicornUVLoopWorker``;
* the listening sockets are bound, :func:`aiotao.lifecycle.start` runs, and
  only then does the worker serve and report itself ``booted`` (a failing
  startup subscriber stops gunicorn instead of respawning workers forever);
* the heartbeat (``notify()``) runs about once a second, from the boot to
  the exit; after ``max_requests`` requests the worker retires gracefully;
* SIGTERM is graceful, in this order: stop accepting, close idle
  keep-alive connections, close websockets with 1001, let requests in
  flight finish within ``graceful_timeout``, cancel the rest, then
  :func:`aiotao.lifecycle.stop`; SIGINT and SIGQUIT cancel at once.

Requests are logged by gunicorn's access log (``--access-logfile``,
``access_log_format``).  Client disconnects cancel the view
(``aiotao.cancel_on_disconnect = false`` lets views run to completion).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import signal
import sys
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from gunicorn.sock import ssl_context
from gunicorn.workers import base

from aiotao import lifecycle
from aiotao.serving.admission import Admission, AdmissionSettings, set_worker_admission
from aiotao.serving.application import ServedApplication, served_application
from aiotao.serving.garbage import tune_for_serving
from aiotao.serving.gunicorn.handler import AiohttpHandler
from aiotao.serving.proxies import TrustedProxies
from aiotao.serving.responses import Environ
from aiotao.serving.settings import ServingSettings
from aiotao.serving.upgrade import close_all_websockets
from aiotao.sidecars import IniServers

#: How often the worker tells the master it is alive, at most.
HEARTBEAT_SECONDS = 1.0
#: Share of ``graceful_timeout`` given to requests in flight; the rest is
#: for cancelling stragglers before the master's SIGKILL.
GRACEFUL_SHARE = 0.9
#: How long a quick stop (SIGINT, SIGQUIT) lets cancelled requests clean up.
QUICK_EXIT_SECONDS = 0.5
#: Limit used where gunicorn's request limits say 0 (unlimited).
UNLIMITED_HEADER_BYTES = 1024 * 1024


class AsyncGunicornWorker(base.Worker):  # type: ignore[misc]
    """A gunicorn worker serving Pyramid natively on an asyncio loop."""

    #: ``'asyncio'``, ``'uvloop'``, or ``None`` to follow gunicorn's ``asgi_loop``.
    loop_kind: str | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.exit_code = 0
        self._stop_requested: asyncio.Event | None = None
        self._quit_requested: asyncio.Event | None = None
        self._executor: ThreadPoolExecutor | None = None
        #: The ini's [aiotao.server:NAME] servers (aiotao.sidecars).
        self.ini_servers = IniServers()

    # -- process setup, in the child after fork --------------------------

    def init_process(self) -> None:
        # A loop inherited from the master must not be shared: make ours
        # before gunicorn loads the application, so the app may use it.
        self.loop = self.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self._stop_requested = asyncio.Event()
        self._quit_requested = asyncio.Event()
        super().init_process()

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        """asyncio's loop; uvloop's with ``asgi_loop = uvloop`` or the uvloop class.

        gunicorn's ``asgi_loop = auto`` (its default) means asyncio here, so
        that installing uvloop for another reason changes nothing.
        """
        kind = self.loop_kind or getattr(self.cfg, 'asgi_loop', 'asyncio')
        if kind != 'uvloop':
            self.loop_kind = 'asyncio'
            return asyncio.new_event_loop()
        try:
            import uvloop
        except ImportError:
            raise RuntimeError(
                'aiotao: the uvloop event loop was asked for but uvloop is not '
                'installed: pip install "aiotao[uvloop]"'
            ) from None
        self.loop_kind = 'uvloop'
        return uvloop.new_event_loop()  # type: ignore[no-any-return]

    def init_signals(self) -> None:
        loop = self.loop
        assert loop is not None
        for sig in self.SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        loop.add_signal_handler(signal.SIGTERM, self.handle_exit, signal.SIGTERM, None)
        loop.add_signal_handler(signal.SIGINT, self.handle_quit, signal.SIGINT, None)
        loop.add_signal_handler(signal.SIGQUIT, self.handle_quit, signal.SIGQUIT, None)
        loop.add_signal_handler(signal.SIGUSR1, self.handle_usr1, signal.SIGUSR1, None)
        loop.add_signal_handler(
            signal.SIGWINCH, self.handle_winch, signal.SIGWINCH, None
        )
        loop.add_signal_handler(signal.SIGABRT, self.handle_abort, signal.SIGABRT, None)
        # a SIGTERM must not break a blocking call in a view's thread
        signal.siginterrupt(signal.SIGTERM, False)
        signal.siginterrupt(signal.SIGUSR1, False)

    def handle_exit(self, sig: int, frame: Any) -> None:
        """SIGTERM: finish what is in flight, then exit."""
        self.alive = False
        self._wake()

    def handle_quit(self, sig: int, frame: Any) -> None:
        """SIGINT/SIGQUIT: exit now, cancelling requests in flight.

        Also during a graceful stop: the wait for requests ends at once.
        """
        self.alive = False
        self.cfg.worker_int(self)
        if self._quit_requested is not None:
            self._quit_requested.set()
        self._wake()

    def handle_abort(self, sig: int, frame: Any) -> None:
        self.alive = False
        self.exit_code = 1
        self.cfg.worker_abort(self)
        sys.exit(1)

    def _wake(self) -> None:
        if self._stop_requested is not None:
            self._stop_requested.set()

    # -- serving ------------------------------------------------------------

    def run(self) -> None:
        # base.Worker marks the worker booted before run(); the real boot
        # (binding, startup events) happens in _serve, which sets it again.
        self.booted = False
        loop = self.loop
        assert loop is not None
        try:
            loop.run_until_complete(self._serve())
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                if self._executor is not None:
                    # a sync view stuck in a thread must not hold the exit
                    self._executor.shutdown(wait=False, cancel_futures=True)
                loop.close()
        sys.exit(self.exit_code)

    async def _serve(self) -> None:
        # the master's watchdog is fed from the start: binding and the
        # startup subscribers (a database connection) may take a while
        heartbeat = asyncio.create_task(self._heartbeat())
        try:
            await self._boot_and_serve()
        finally:
            heartbeat.cancel()

    async def _boot_and_serve(self) -> None:
        loop = asyncio.get_running_loop()
        app = served_application(self.wsgi)
        registry = app.registry
        settings = ServingSettings.from_settings(
            registry.settings if registry is not None else None,
            trusted_proxies=TrustedProxies.parse(self.cfg.forwarded_allow_ips),
            multiprocess=self.cfg.workers > 1,
        )
        self._executor = ThreadPoolExecutor(
            settings.thread_pool_size, thread_name_prefix='aiotao-worker'
        )
        loop.set_default_executor(self._executor)
        admission = Admission(
            AdmissionSettings.from_settings(
                registry.settings if registry is not None else None
            ),
            self.cfg.worker_connections or None,
        )
        handler = AiohttpHandler(
            app,
            settings,
            error_log=self.log,
            access_log=self._log_access if self.log.access_log_enabled else None,
            keep_alive=self.cfg.keepalive > 0,
            admission=admission,
        )
        server = _AdmittingServer(
            admission,
            handler,
            handler_cancellation=settings.cancel_on_disconnect,
            logger=_ServerLog(self.log),
            access_log=None,  # gunicorn's access log is written by _log_access
            # aiohttp's keep-alive timer also bounds how long a new
            # connection may take to send its first request head
            # (slowloris); with keep-alive off it still needs one
            keepalive_timeout=self.cfg.keepalive or settings.header_timeout,
            max_line_size=self.cfg.limit_request_line or UNLIMITED_HEADER_BYTES,
            max_field_size=self.cfg.limit_request_field_size or UNLIMITED_HEADER_BYTES,
            max_headers=self.cfg.limit_request_fields or 32768,
            # the body reaches the application as sent, as with any WSGI server
            auto_decompress=False,
        )
        ssl = ssl_context(self.cfg) if self.cfg.is_ssl else None
        listeners = [
            await loop.create_server(
                server,
                sock=listener.sock,
                ssl=ssl,
                backlog=self.cfg.backlog,
                start_serving=False,
            )
            for listener in self.sockets
        ]
        self.ini_servers = IniServers.for_gunicorn(self.cfg, self.app)
        if registry is not None:
            await lifecycle.start(registry)
        await self.ini_servers.start(registry)
        # the loaded app is frozen out of the collector's walks (see module)
        tune_for_serving(settings.gc_interval)
        admission.lag.start()
        set_worker_admission(admission)
        for listener in listeners:
            await listener.start_serving()
        self.booted = True
        self.log.info(
            'aiotao worker (pid: %s) serving %r on %s: %s loop, %d threads',
            self.pid,
            app,
            ', '.join(str(s) for s in self.sockets),
            self.loop_kind,
            settings.thread_pool_size,
        )
        try:
            await self._wait_until_stopped(server)
        finally:
            await self._shut_down(app, server, listeners, handler)

    async def _heartbeat(self) -> None:
        """Tell the master this worker is alive, about once a second."""
        interval = min(HEARTBEAT_SECONDS, self.timeout or HEARTBEAT_SECONDS)
        while True:
            self.notify()
            await asyncio.sleep(interval)

    async def _wait_until_stopped(self, server: web.Server) -> None:
        """Serve until a signal, ``max_requests`` or a new parent says stop."""
        assert self._stop_requested is not None
        while self.alive:
            if server.requests_count >= self.max_requests:
                self.log.info('Max requests, shutting down: %s', self)
                self.alive = False
            elif self.ppid != os.getppid():
                self.log.info('Parent changed, shutting down: %s', self)
                self.alive = False
            else:
                try:
                    await asyncio.wait_for(
                        self._stop_requested.wait(), HEARTBEAT_SECONDS
                    )
                except TimeoutError:
                    pass

    async def _shut_down(
        self,
        app: ServedApplication,
        server: web.Server,
        listeners: list[asyncio.Server],
        handler: AiohttpHandler,
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.cfg.graceful_timeout * GRACEFUL_SHARE
        for listener in listeners:
            listener.close()
        self.ini_servers.close()
        # idle keep-alive connections close now; busy ones after their response
        server.pre_shutdown()
        if not self._quit_requested_now():
            await _within(deadline, close_all_websockets(), self.log)
            await self._wait_for_requests(handler, deadline)
        handler.cancel_in_flight()
        # cancels what is left and closes every connection; aiohttp reads
        # a timeout of 0 as "no timeout", hence the floor
        remaining = max(0.1, deadline - loop.time())
        if self._quit_requested_now():
            remaining = min(remaining, QUICK_EXIT_SECONDS)
        await server.shutdown(timeout=remaining)
        await self.ini_servers.wait_closed(
            min(remaining, max(0.1, deadline - loop.time()))
        )
        if app.registry is not None:
            await lifecycle.stop(app.registry)
        if handler.admission is not None:
            await handler.admission.lag.stop()

    def _quit_requested_now(self) -> bool:
        return self._quit_requested is not None and self._quit_requested.is_set()

    async def _wait_for_requests(
        self, handler: AiohttpHandler, deadline: float
    ) -> None:
        """Wait for the requests in flight, until ``deadline`` or a SIGQUIT."""
        in_flight = set(handler.in_flight)
        if not in_flight:
            return
        loop = asyncio.get_running_loop()
        remaining = max(0.0, deadline - loop.time())
        self.log.info(
            'Waiting up to %.1fs for %d requests in flight', remaining, len(in_flight)
        )
        assert self._quit_requested is not None
        all_done = asyncio.ensure_future(asyncio.wait(in_flight))
        quit_requested = asyncio.ensure_future(self._quit_requested.wait())
        try:
            await asyncio.wait(
                {all_done, quit_requested},
                timeout=remaining,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            # cancelling asyncio.wait() leaves the requests themselves alone
            all_done.cancel()
            quit_requested.cancel()

    # -- access log ---------------------------------------------------------

    def _log_access(
        self,
        status: int,
        sent: int,
        headers: list[tuple[str, str]],
        request: web.BaseRequest,
        environ: Environ,
        seconds: float,
    ) -> None:
        # gunicorn turns its access log on for any logging configuration,
        # which every ``--paste`` ini has, even when no handler writes the
        # entries; building them anyway cost a quarter of a small request
        if not logger_writes(self.log.access_log, logging.INFO):
            return
        self.log.access(
            _LoggedResponse(status, sent, headers),
            _LoggedRequest(request),
            environ,
            datetime.timedelta(seconds=seconds),
        )


class AsyncGunicornUVLoopWorker(AsyncGunicornWorker):
    """:class:`AsyncGunicornWorker` on uvloop (``pip install "aiotao[uvloop]"``)."""

    loop_kind = 'uvloop'


def logger_writes(logger: logging.Logger, level: int) -> bool:
    """Whether a record at ``level`` reaches a handler that takes it.

    The walk of :meth:`logging.Logger.callHandlers`: up the hierarchy until
    ``propagate`` is false, and logging's last resort (WARNING, to stderr)
    when no handler was found at all.

    >>> logger = logging.Logger('example', logging.INFO)  # outside the hierarchy
    >>> logger_writes(logger, logging.INFO), logger_writes(logger, logging.ERROR)
    (False, True)
    >>> logger.addHandler(logging.NullHandler())
    >>> logger_writes(logger, logging.INFO)
    True
    """
    if not logger.isEnabledFor(level):
        return False
    found = False
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            found = True
            if level >= handler.level:
                return True
        if not current.propagate:
            break
        current = current.parent
    if found:
        return False
    last_resort = logging.lastResort
    return last_resort is not None and level >= last_resort.level


async def _within(deadline: float, awaitable: Awaitable[None], log: Any) -> None:
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(awaitable, max(0.1, deadline - loop.time()))
    except TimeoutError:
        log.warning('Closing websockets took too long; going on with shutdown')


class _AdmittingServer(web.Server):
    """aiohttp's server, telling admission control of each new connection."""

    def __init__(self, admission: Admission, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.admission = admission

    def connection_made(self, handler: Any, transport: asyncio.Transport) -> None:
        super().connection_made(handler, transport)
        self.admission.connection_made(handler, len(self._connections))

    def connection_lost(self, handler: Any, exc: BaseException | None = None) -> None:
        super().connection_lost(handler, exc)
        self.admission.connection_lost(handler)


class _LoggedResponse:
    """The attributes of a response that gunicorn's access log reads."""

    def __init__(self, status: int, sent: int, headers: list[tuple[str, str]]):
        self.status = status
        self.sent = sent
        self.headers = headers


class _LoggedRequest:
    """The attributes of a request that gunicorn's access log reads."""

    def __init__(self, request: web.BaseRequest) -> None:
        self.headers = [
            (name.decode('latin-1'), value.decode('latin-1'))
            for name, value in request.raw_headers
        ]


class _ServerLog:
    """aiohttp's server logger, writing to gunicorn's error log.

    aiohttp logs a malformed request with a traceback; it is the client's
    fault, so it becomes one warning line, as gunicorn's own workers write.
    """

    def __init__(self, log: Any) -> None:
        self._log = log

    def __getattr__(self, name: str) -> Any:
        return getattr(self._log, name)

    def exception(self, msg: str, *args: Any, **kwargs: Any) -> None:
        exc_info = kwargs.get('exc_info')
        if isinstance(exc_info, HttpProcessingError):
            remote = args[0] if args else '-'
            self._log.warning(
                'Invalid request from ip=%s: %s', remote, exc_info.message
            )
            return
        self._log.exception(msg, *args, **kwargs)
