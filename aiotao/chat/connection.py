"""One client in one room: its ``say``, ``nick`` and ``ping`` messages.

:class:`ChatConnection` is a :class:`~aiotao.websocket.MessageHandlers`:
the router decodes and validates each message (bad JSON, an unknown type
or a bad payload is an ``error`` to that client, and the connection stays
open) and applies the per-connection rate limit from the settings.

What a client may say and be called is decided by the socket-free
:class:`~aiotao.chat.session.ChatSession`; this class does the I/O
(storing, broadcasting, asking the presence).

A ``nick`` is checked, never silently changed: a name with characters a
nickname cannot hold is ``invalid`` (the message says which), one that
someone in the room goes by (up to case and look-alikes) is
``nick_taken``, a signed-in user's name is ``nick_reserved``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pymongo.errors import PyMongoError

from aiotao.chat.history import ChatHistory
from aiotao.chat.nicknames import Nickname, remember_nickname
from aiotao.chat.protocol import Nick, Ping, Say
from aiotao.chat.rooms import broadcast_to_room
from aiotao.chat.session import ChatSession
from aiotao.chat.settings import ChatSettings
from aiotao.websocket.messages import MessageError, MessageHandlers

if TYPE_CHECKING:
    from aiotao.chat.presence import ChatPresence

__all__ = ['ChatConnection']

log = logging.getLogger(__name__)


class ChatConnection(MessageHandlers):
    """Serves the messages of one chat client (made by the chat view).

    ::

        connection = ChatConnection(ws, room='lobby', nick=Nickname('ada'),
                                    settings=settings, history=history,
                                    presence=get_chat_presence(registry))
        await presence.enter(connection)     # the room hears of it
        await connection.serve()             # until the client leaves
    """

    def __init__(
        self,
        ws: Any,
        *,
        room: str,
        nick: Nickname,
        settings: ChatSettings,
        history: ChatHistory,
        presence: ChatPresence,
    ) -> None:
        super().__init__(ws)
        #: What the client may say and be called (no I/O: the handlers do it).
        self.session = ChatSession(room, nick, max_length=settings.max_length)
        #: The connection's presence ref, while it is in the room.
        self.ref: str | None = None
        self.settings = settings
        self.history = history
        self.presence = presence

    @property
    def room(self) -> str:
        return self.session.room

    @property
    def nick(self) -> Nickname:
        """The client's nickname (the presence renames it)."""
        return self.session.nick

    @nick.setter
    def nick(self, nick: Nickname) -> None:
        self.session.nick = nick

    @property
    def registry(self) -> Any:
        return self.ws.request.registry

    async def serve(self) -> None:
        """Serve the client until it leaves, at the settings' rate limit."""
        await self.router.serve(self.ws, self, rate_limit=self.settings.rate_limit)

    async def on_say(self, message: Say) -> dict[str, str]:
        """Store the text, then broadcast it; the reply is the stored id and time."""
        text = self.session.say(message.text)
        try:
            stored = await self.history.store(self.room, self.nick.name, text)
        except PyMongoError as exc:
            log.warning(
                'aiotao.chat: a message to %s was not stored: %s', self.room, exc
            )
            raise MessageError(
                'unavailable', 'the message could not be stored: send it again'
            ) from None
        try:
            await broadcast_to_room(self.registry, self.room, stored.as_json())
        except Exception:
            # It is stored (so acknowledged): the room reads it in the history.
            log.exception('aiotao.chat: message %s stored but not broadcast', stored.id)
        return self.session.stored(stored)

    async def on_nick(self, message: Nick) -> dict[str, str]:
        """Rename a guest; a signed-in user keeps the name of their identity."""
        name, changed = self.session.rename(message.name)
        if changed:
            try:
                await self.presence.check_free(self.room, name, self.nick.key)
            except PyMongoError as exc:
                log.warning('aiotao.chat: cannot check the nickname %r: %s', name, exc)
                raise MessageError(
                    'unavailable', 'the nickname could not be checked: try again'
                ) from None
            await self.presence.rename(self, Nickname(name, key=self.nick.key))
            remember_nickname(self.ws.request, name)
        return {'nick': name}

    async def on_ping(self, message: Ping) -> str:
        return 'pong'
