"""The chat's views: the websocket of a room, and keeping a guest's nickname.

::

    config.include('aiotao.chat')
    config.add_chat_route('chat', '/chat/{room}/socket')

A client connecting to ``/chat/lobby/socket`` gets, in order: ``welcome``
(its nickname, the limits it must keep), ``history`` (the last messages,
oldest first), then what everyone in the room gets: ``joined`` and
``members``, and from then on every ``message``.  The connection joins the
room's group *before* the history is read, so no message falls between the
two (one may be in both: clients dedupe by ``id``).  After an outage of
the broadcast broker, the room's members get a ``history`` again, with
``"resync": true`` (:mod:`aiotao.chat.resync`).  A guest whose
nickname someone in the room goes by gets a variant of it for this room,
and the welcome's ``notice`` says so.

An invalid room name refuses the handshake with 404.  When MongoDB cannot
be reached the connection is closed with 1013 (try again later), which a
client's reconnect handles.

``POST /_aiotao/chat/nickname`` (:func:`keep_nickname`, added by the
include) keeps a guest's new nickname in the session, so that the next
page and its websocket use it: the page posts it once the websocket
accepted the rename, since no cookie can be set after a handshake.
"""

from __future__ import annotations

import logging
from typing import Any

from pymongo.errors import PyMongoError
from pyramid.csrf import check_csrf_token
from pyramid.httpexceptions import (
    HTTPBadRequest,
    HTTPConflict,
    HTTPForbidden,
    HTTPNotFound,
    HTTPNotImplemented,
    HTTPServiceUnavailable,
)

from aiotao.chat import protocol
from aiotao.chat.connection import ChatConnection
from aiotao.chat.history import get_history
from aiotao.chat.nicknames import (
    Nickname,
    check_nickname,
    nickname_for,
    remember_nickname,
)
from aiotao.chat.presence import get_chat_presence
from aiotao.chat.resync import watch_for_resync
from aiotao.chat.rooms import MAX_ROOM_LENGTH, group_name, valid_room
from aiotao.chat.session import TRY_AGAIN_LATER, ChatSession, Close
from aiotao.chat.settings import get_chat_settings
from aiotao.chat.signed_in import get_signed_in_names
from aiotao.websocket.connection import WebsocketConnection
from aiotao.websocket.messages import MessageError

__all__ = ['DEFAULT_ROOM', 'TRY_AGAIN_LATER', 'ChatView', 'keep_nickname', 'room_from']

log = logging.getLogger(__name__)

#: The room of a route without ``{room}`` in its pattern.
DEFAULT_ROOM = 'lobby'


def room_from(request: Any) -> str:
    """The room named by the request's route, or 404.

    >>> from pyramid import testing
    >>> room_from(testing.DummyRequest(matchdict={'room': 'lobby'}))
    'lobby'
    """
    room = (getattr(request, 'matchdict', None) or {}).get('room', DEFAULT_ROOM)
    if not valid_room(room):
        raise HTTPNotFound(
            f'There is no chat room {str(room)[:60]!r}: a room is named by 1 to '
            f'{MAX_ROOM_LENGTH} letters, digits, "_", "-" or ".".'
        )
    return str(room)


class ChatView:
    """The websocket view of a chat room (``mapper=WebsocketMapper``).

    Subclass it to add to the ``welcome`` message (:meth:`welcome`) or to
    serve with another :attr:`connection_class`, and pass the subclass as
    ``add_chat_route(..., view=MyChat)``.
    """

    connection_class: type[ChatConnection] = ChatConnection

    def __init__(self, context: Any, request: Any) -> None:
        # runs before the handshake completes: a bad room is a 404
        self.room = room_from(request)
        self.request = request

    def welcome(self, nick: Nickname) -> dict[str, Any]:
        """The first message a client gets."""
        settings = get_chat_settings(self.request.registry)
        return protocol.welcome(
            self.room,
            nick.name,
            settings.max_length,
            rate=settings.rate_limit.rate,
            burst=int(settings.rate_limit.capacity),
            signed_in=nick.authenticated,
        )

    async def __call__(self, ws: WebsocketConnection) -> None:
        registry = ws.request.registry
        members = get_chat_presence(registry)
        room = self.room
        watch_for_resync(registry)
        await ws.join(group_name(room))
        try:
            nick, notice = await members.settle(room, await nickname_for(ws.request))
        except PyMongoError as exc:
            log.warning('aiotao.chat: cannot join %s: %s', room, exc)
            await _close(ws, ChatSession.database_lost())
            return
        connection = self.connection_class(
            ws,
            room=room,
            nick=nick,
            settings=get_chat_settings(registry),
            history=get_history(registry),
            presence=members,
        )
        session = connection.session
        try:
            await ws.send_json(session.welcome(self.welcome(nick), notice))
            recent = await connection.history.recent(room)
            await ws.send_json(session.history(recent))
            await members.enter(connection)
            await connection.serve()
        except PyMongoError as exc:
            log.warning('aiotao.chat: lost the database in %s: %s', room, exc)
            await _close(ws, session.database_lost())
        finally:
            try:
                await members.leave(connection)
            except Exception:
                # the others stop hearing of this worker's connection anyway
                log.exception('aiotao.chat: %s left %s', nick.name, room)


async def _close(ws: WebsocketConnection, close: Close) -> None:
    await ws.close(close.code, close.reason)


def _session(request: Any) -> Any:
    try:
        return request.session
    except AttributeError:
        return None


async def keep_nickname(request: Any) -> dict[str, str]:
    """``POST {"nick": "Ada"}``: keep a guest's nickname in the session.

    The name is checked as a rename is (400 with the reason); a signed-in
    user's name is refused (409), and so is renaming a signed-in user
    (403).  The request needs the CSRF token (``X-CSRF-Token`` header).
    """
    if _session(request) is None:
        raise HTTPNotImplemented(
            'this application keeps no sessions (no session factory): a '
            'nickname lasts for one connection'
        )
    check_csrf_token(request)  # 400 without the right token
    try:
        body = request.json_body
    except ValueError:
        body = None
    name = body.get('nick') if isinstance(body, dict) else None
    if not isinstance(name, str):
        raise HTTPBadRequest('send {"nick": "a name"} as JSON')
    nick = await nickname_for(request)
    if nick.authenticated:
        raise HTTPForbidden('signed-in users are called by their user name')
    try:
        name = check_nickname(name)
        holder = await get_signed_in_names(request.registry).holder(name)
    except MessageError as refused:
        raise HTTPBadRequest(refused.message) from None
    except PyMongoError:
        raise HTTPServiceUnavailable('the chat database is unavailable') from None
    if holder is not None:
        raise HTTPConflict(f'{name!r} is the name of a signed-in user')
    remember_nickname(request, name)
    return {'nick': name}
