"""Send to one user, or to one connection, from anywhere.

Every websocket connection is addressable from when its view starts: by its
own :attr:`~aiotao.websocket.connection.WebsocketConnection.address` (a
random string), and by the ``authenticated_userid`` its handshake had,
if any.  Anything that has the application's registry can then reach it,
on whatever worker or machine it is connected to: an HTTP view, a
scheduled task, another process::

    @view_config(route_name='notify', request_method='POST', renderer='json')
    async def notify(request):
        await request.realtime.send_to_user('ada', {'type': 'mention', 'by': 'bob'})
        return {}

    # without a request (a task): get_realtime(registry).send_to_user(...)
    # one connection, whose ws.address the application kept:
    await request.realtime.send_to_connection(address, 'hello')

A message is ``str`` or ``bytes`` (sent as it is) or a JSON-able value
(sent as JSON text).

**How.**  A connection joins two groups (:mod:`aiotao.websocket.groups`)
when it opens: ``aiotao.connection:<address>`` and, for an authenticated
handshake, ``aiotao.user:<userid>``.  Sending is a broadcast to one of
them, so it goes through the ``aiotao.broadcast`` backend (Redis, MongoDB)
to every process, and each delivers to its own connections.  These groups
are not in ``ws.groups``.

**Delivery guarantee: at most once**, as for every broadcast:

* every connection of the user that is open when the message reaches its
  process gets it once (all their tabs and devices), queued without
  waiting; a connection too slow to take it is dropped (1008), as for any
  broadcast;
* if the user has no open connection, the message goes nowhere: nothing
  is kept for later, no error is raised, and the sender cannot tell
  (send what must not be lost through your database, and push only a
  notice);
* while the broker is down, only connections of the sending process get it.

**Whose sockets.**  The user address is the userid of the *handshake*,
until a message of the connection is refused by its permission
(:mod:`aiotao.websocket.authorization`): the userid is then read again and
the connection moves to the address of who it is now (none after a
logout).  A connection whose user logged out elsewhere and that sends
nothing keeps the old address until it closes; close such connections on
logout if what you send is private (for instance send
``{"type": "logged_out"}`` to the user, and let the page close and
reconnect).
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

from pyramid.registry import Registry

from aiotao.websocket.groups import Groups, get_groups
from aiotao.websocket.transport import Message

__all__ = [
    'CONNECTION_PREFIX',
    'USER_PREFIX',
    'Realtime',
    'connection_group',
    'get_realtime',
    'new_address',
    'user_group',
]

log = logging.getLogger(__name__)

#: The groups that address users and connections start with these.
USER_PREFIX = 'aiotao.user:'
CONNECTION_PREFIX = 'aiotao.connection:'
ADDRESS_PREFIXES = (USER_PREFIX, CONNECTION_PREFIX)


def new_address() -> str:
    """A connection's address: unguessable, so knowing it is the right to send."""
    return secrets.token_urlsafe(16)


def user_group(userid: Any) -> str:
    """The group of ``userid``'s connections.

    >>> user_group('ada'), user_group(42)
    ('aiotao.user:ada', 'aiotao.user:42')
    """
    if userid is None or userid == '':
        raise ValueError('send_to_user() needs a userid, not None or ""')
    return f'{USER_PREFIX}{userid}'


def connection_group(address: str) -> str:
    if not isinstance(address, str) or not address:
        raise ValueError(f'a connection address is a non-empty string, not {address!r}')
    return f'{CONNECTION_PREFIX}{address}'


def _encoded(message: Any) -> Message:
    if isinstance(message, (str, bytes)):
        return message
    try:
        return json.dumps(message)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f'a realtime message is str, bytes or JSON-able: {exc}'
        ) from None


class Realtime:
    """Sending to users and connections of one application; ``request.realtime``."""

    def __init__(self, groups: Groups) -> None:
        self.groups = groups

    async def send_to_user(self, userid: Any, message: Any) -> None:
        """Send ``message`` to every open connection of ``userid``, on any worker.

        At most once; nothing happens if the user has no open connection.
        """
        await self.groups.broadcast(user_group(userid), _encoded(message))

    async def send_to_connection(self, address: str, message: Any) -> None:
        """Send ``message`` to the connection whose ``ws.address`` is ``address``."""
        await self.groups.broadcast(connection_group(address), _encoded(message))


def get_realtime(registry: Registry) -> Realtime:
    """The :class:`Realtime` of the application ``registry``.

    >>> from pyramid.config import Configurator
    >>> config = Configurator(settings={})
    >>> config.include('aiotao.websocket'); config.commit()
    >>> type(get_realtime(config.registry)).__name__
    'Realtime'
    """
    return Realtime(get_groups(registry))


async def readdress(ws: Any) -> None:
    """Move ``ws`` to the user address of its identity as it is now."""
    from aiotao.security import authenticated_userid_async

    userid = await authenticated_userid_async(ws.request)
    if userid == '':
        userid = None
    if userid == ws.userid:
        return
    if ws.userid is not None:
        await ws.leave(user_group(ws.userid))
    ws.userid = userid
    if userid is not None:
        await ws.join(user_group(userid))


async def address_connection(ws: Any) -> None:
    """Make an open connection reachable by its address and its user.

    A security policy that fails here is logged: the connection stays
    reachable by its address only, and is not refused (its handshake was
    already allowed).
    """
    # imported here: aiotao.security imports the mappers, which import this
    from aiotao.security import authenticated_userid_async

    await ws.join(connection_group(ws.address))
    try:
        userid = await authenticated_userid_async(ws.request)
    except Exception:
        log.exception(
            'aiotao: the security policy failed to give the userid of a '
            'websocket: send_to_user() will not reach it'
        )
        return
    if userid is not None and userid != '':
        ws.userid = userid
        await ws.join(user_group(userid))
