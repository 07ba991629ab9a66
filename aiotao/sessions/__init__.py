"""Server-side sessions, so that a long-lived websocket sees a logout.

Pyramid's :class:`~pyramid.session.SignedCookieSessionFactory` keeps the
session *in* the cookie.  That is fine for HTTP, where every request
brings the browser's latest cookie, but a websocket sends its cookie once,
at the handshake: a logout in another tab changes the browser's cookie,
never the copy the connection holds.  Per-message permissions
(``permission=`` on a :class:`~aiotao.websocket.MessageRouter` handler)
must see that logout, so the session has to live on the server:

    [app:main]
    pyramid.includes = aiotao aiotao.sessions
    aiotao.session.store = redis://127.0.0.1:6379/0     # or memory (one process)
    aiotao.session.timeout = 1200

The cookie carries only a random session id (256 bits, ``HttpOnly``,
``SameSite=Lax``); the state is in the store (:mod:`aiotao.sessions.stores`),
which an async tween awaits: it loads the session before the view and
saves it after, if it changed.  ``request.session`` is a normal Pyramid
session (``ISession``: flash, CSRF tokens, ``invalidate()``), usable from
sync and async views.  Pyramid's
:class:`~pyramid.authentication.SessionAuthenticationHelper` keeps the
userid there, so ``remember`` and ``forget`` change what the store holds.

**What a websocket sees.**  Each message whose handler has a permission
re-reads the connection's session from the store
(:func:`reload_session`), by the id of its handshake cookie:

* a logout (``forget``, ``session.invalidate()``) anywhere, on any worker,
  and a session that expired, are seen by the next message;
* a login that keeps the session id (``remember`` does) is seen too;
* a login that *rotates* the session id (``invalidate()`` first, against
  session fixation) is seen by connections opened after it, not by one
  opened before: that one keeps following the id it was opened with, which
  is now empty.  Pages reconnect after such a login.

Websocket messages do not extend a session: it expires ``timeout`` seconds
after the last HTTP request that used it.

**When the store cannot be reached**, a request that carries a session
cookie gets ``503`` with ``Retry-After`` (logged), and so does one whose
session could not be saved after its view ran (its login or logout was not
kept, and the client must not believe it was); a websocket message that
needs a permission gets an ``internal_error`` reply.  Nothing is allowed on
a session that could not be read.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError
from pyramid.httpexceptions import HTTPServiceUnavailable
from pyramid.registry import Registry

from aiotao.interfaces import ISessions as ISessions
from aiotao.lifecycle import ServerStopping, add_lifecycle_subscriber
from aiotao.services import register_service
from aiotao.sessions.session import ServerSession, new_session_id
from aiotao.sessions.stores import MemorySessionStore, RedisSessionStore, SessionStore
from aiotao.settings import number, read_setting

__all__ = [
    'MemorySessionStore',
    'RedisSessionStore',
    'ServerSession',
    'SessionStore',
    'Sessions',
    'includeme',
    'read_settings',
    'reload_session',
]

log = logging.getLogger(__name__)

STORE = 'aiotao.session.store'
TIMEOUT = 'aiotao.session.timeout'
SECURE = 'aiotao.session.secure'
COOKIE = 'session'
#: Where the tween leaves the loaded state for the session factory.
_LOADED = 'aiotao.session.loaded'


@dataclass(frozen=True)
class Sessions:
    """The store and the cookie's settings of one application."""

    store: Any
    timeout: float = 1200.0
    secure: bool = False

    def cookie_id(self, request: Any) -> str | None:
        id = request.cookies.get(COOKIE)
        return id if isinstance(id, str) and 20 <= len(id) <= 64 else None

    async def load(self, request: Any) -> ServerSession:
        id = self.cookie_id(request)
        state = await self.store.load(id) if id is not None else None
        return ServerSession(id if state is not None else None, state)

    async def save(self, request: Any, response: Any) -> None:
        session = request.__dict__.get('session')
        if not isinstance(session, ServerSession):
            return
        if session.invalidated_id is not None:
            await self.store.delete(session.invalidated_id)
        if not session.changed_since_load and not _due_for_renewal(session, self):
            if session.invalidated_id is not None:
                response.delete_cookie(COOKIE)
            return
        if session.new and not session:
            if session.invalidated_id is not None:
                response.delete_cookie(COOKIE)
            return  # nothing to keep: no cookie for it
        if session.id is None:
            session.id = new_session_id()
        session.accessed = time.time()
        await self.store.save(session.id, session.state(), self.timeout)
        if self.cookie_id(request) != session.id:
            # no max_age: the store expires the session (timeout after its
            # last use), and a renewed session must not lose its cookie
            # when the first one's age runs out
            response.set_cookie(
                COOKIE,
                session.id,
                path='/',
                httponly=True,
                samesite='Lax',
                secure=self.secure,
            )


def _due_for_renewal(session: ServerSession, sessions: Sessions) -> bool:
    # An unchanged session is saved again (its expiry pushed back) once a
    # tenth of its timeout passed, not on every request.
    return (
        session.id is not None
        and time.time() - session.accessed > sessions.timeout / 10
    )


def get_sessions(registry: Registry) -> Sessions | None:
    sessions = registry.queryUtility(ISessions)
    return sessions if isinstance(sessions, Sessions) else None


async def reload_session(request: Any) -> None:
    """Read ``request.session`` again from the store (what a websocket message does).

    Without server-side sessions, the cached ``request.session`` is dropped,
    so that a session factory of the application's own reads it again.
    """
    sessions = get_sessions(request.registry)
    if sessions is None:
        request.__dict__.pop('session', None)
        return
    request.__dict__['session'] = await sessions.load(request)


def _session_factory(request: Any) -> ServerSession:
    # The tween loaded it; a request that did not pass the tween (a
    # subrequest made by hand) gets an empty session rather than blocking
    # the loop on the store.
    loaded = request.environ.get(_LOADED)
    return loaded if isinstance(loaded, ServerSession) else ServerSession(None, None)


Handler = Callable[[Any], Coroutine[Any, Any, Any]]


def _store_down(what: str) -> HTTPServiceUnavailable:
    log.exception('aiotao.sessions: the session %s', what)
    return HTTPServiceUnavailable(
        f'The session {what} (its store is unreachable); try again later.',
        headers={'Retry-After': '1'},
    )


def session_tween_factory(handler: Handler, registry: Registry) -> Handler:
    """Load the session before the view, save it after (awaiting the store)."""
    sessions = get_sessions(registry)
    assert sessions is not None

    async def session_tween(request: Any) -> Any:
        if sessions.cookie_id(request) is not None:
            try:
                request.environ[_LOADED] = await sessions.load(request)
            except Exception:
                return _store_down('could not be read')
        response = await handler(request)
        # A websocket never saves: its session is the handshake's (or the
        # one its last message re-read), and saving it when the connection
        # ends could bring back a session that was logged out meanwhile.
        if request.headers.get('Upgrade', '').lower() != 'websocket':
            try:
                await sessions.save(request, response)
            except Exception:
                # the view ran, but what it did to the session (a login, a
                # logout) is not kept: the client must not think it was
                return _store_down('could not be saved')
        return response

    return session_tween


def read_settings(settings: Mapping[str, Any]) -> Sessions:
    """The ``aiotao.session.*`` settings.

    >>> read_settings({'aiotao.session.timeout': '60'}).timeout
    60.0
    >>> read_settings({'aiotao.session.store': 'file:///tmp'})
    Traceback (most recent call last):
    ...
    pyramid.exceptions.ConfigurationError: aiotao.session.store = file:///tmp: expected memory, or redis://host:port/db (rediss:// with TLS)
    """
    store_setting = str(settings.get(STORE, 'memory')).strip()
    store: SessionStore
    if store_setting == 'memory':
        store = MemorySessionStore()
    elif store_setting.startswith(('redis://', 'rediss://', 'unix://')):
        store = RedisSessionStore(store_setting)
    else:
        raise ConfigurationError(
            f'{STORE} = {store_setting}: expected memory, or redis://host:port/db '
            f'(rediss:// with TLS)'
        )
    timeout = read_setting(
        settings, TIMEOUT, 1200.0, number(1, 366 * 86400), 'seconds, from 1'
    )
    secure = str(settings.get(SECURE, 'false')).strip().lower()
    if secure not in ('true', 'false', 'yes', 'no', 'on', 'off', '1', '0'):
        raise ConfigurationError(f'{SECURE} = {secure}: expected true or false')
    return Sessions(store, timeout, secure in ('true', 'yes', 'on', '1'))


async def close_store(event: ServerStopping) -> None:
    sessions = get_sessions(event.registry)
    if sessions is not None:
        await sessions.store.close()


def includeme(config: Configurator) -> None:
    """``config.include('aiotao.sessions')``: server-side sessions from the settings."""
    sessions = read_settings(config.get_settings())
    register_service(
        config,
        ISessions,
        lambda registry: sessions,
        title=f'server-side sessions ({type(sessions.store).__name__})',
        include='aiotao.sessions',
    )
    add_lifecycle_subscriber(config, close_store, ServerStopping)
    config.set_session_factory(_session_factory)
    config.add_tween('aiotao.sessions.session_tween_factory')
