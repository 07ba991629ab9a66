"""The chat's websocket view: one room per connection.

::

    config.include('aiotao.chat')
    config.add_chat_route('chat', '/chat/{room}/socket')

A client connecting to ``/chat/lobby/socket`` gets, in order: ``welcome``
(its nickname), ``history`` (the last messages, oldest first), then what
everyone in the room gets: ``joined`` and ``members``, and from then on
every ``message``.  The connection joins the room's group *before* the
history is read, so no message falls between the two (one may be in both:
clients dedupe by ``id``).

An invalid room name refuses the handshake with 404.  When MongoDB cannot
be reached the connection is closed with 1013 (try again later), which a
client's reconnect handles.
"""

from __future__ import annotations

import logging
from typing import Any

from pymongo.errors import PyMongoError
from pyramid.httpexceptions import HTTPNotFound

from aiotao.chat import protocol
from aiotao.chat.announcements import announce
from aiotao.chat.connection import ChatConnection
from aiotao.chat.history import get_history
from aiotao.chat.nicknames import Nickname, nickname_for
from aiotao.chat.presence import get_presence
from aiotao.chat.rooms import MAX_ROOM_LENGTH, group_name, valid_room
from aiotao.chat.settings import get_chat_settings
from aiotao.websocket.connection import WebsocketConnection

__all__ = ['DEFAULT_ROOM', 'TRY_AGAIN_LATER', 'ChatView', 'room_from']

log = logging.getLogger(__name__)

#: The room of a route without ``{room}`` in its pattern.
DEFAULT_ROOM = 'lobby'
#: Close code: the server cannot serve the chat right now (RFC 6455 1013).
TRY_AGAIN_LATER = 1013


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
        return protocol.welcome(self.room, nick.name, settings.max_length)

    async def __call__(self, ws: WebsocketConnection) -> None:
        registry = ws.request.registry
        presence = get_presence(registry)
        room = self.room
        nick = await nickname_for(ws.request)
        await ws.join(group_name(room))
        try:
            entry = await presence.enter(room, nick.name)
        except PyMongoError as exc:
            log.warning('aiotao.chat: cannot join %s: %s', room, exc)
            await ws.close(TRY_AGAIN_LATER, 'the chat database is unavailable')
            return
        connection = self.connection_class(
            ws,
            room=room,
            nick=nick,
            entry=entry,
            settings=get_chat_settings(registry),
            history=get_history(registry),
            presence=presence,
        )
        try:
            await ws.send_json(self.welcome(nick))
            recent = await connection.history.recent(room)
            await ws.send_json(protocol.history(room, recent))
            await announce(registry, presence, room, protocol.joined(room, nick.name))
            await connection.serve()
        except PyMongoError as exc:
            log.warning('aiotao.chat: lost the database in %s: %s', room, exc)
            await ws.close(TRY_AGAIN_LATER, 'the chat database is unavailable')
        finally:
            await _leave(registry, connection)


async def _leave(registry: Any, connection: ChatConnection) -> None:
    room, nick = connection.room, connection.nick.name
    try:
        if await connection.presence.leave(connection.entry):
            await announce(
                registry, connection.presence, room, protocol.left(room, nick)
            )
    except Exception as exc:
        # the heartbeat's sweep announces it once the entry is stale
        log.warning(
            'aiotao.chat: could not announce that %s left %s: %s', nick, room, exc
        )
