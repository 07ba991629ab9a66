"""One client in one room: its ``say``, ``nick`` and ``ping`` messages.

:class:`ChatConnection` is a :class:`~aiotao.websocket.MessageHandlers`:
the router decodes and validates each message (bad JSON, an unknown type
or a bad payload is an ``error`` to that client, and the connection stays
open) and applies the per-connection rate limit from the settings.

A ``nick`` is checked, never silently changed: a name with characters a
nickname cannot hold is ``invalid`` (the message says which), one that
someone in the room goes by (up to case and look-alikes) is
``nick_taken``, a signed-in user's name is ``nick_reserved``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pymongo.errors import PyMongoError

from aiotao.chat import protocol
from aiotao.chat.history import ChatHistory
from aiotao.chat.nicknames import Nickname, check_nickname, remember_nickname
from aiotao.chat.protocol import Nick, Ping, Say
from aiotao.chat.rooms import broadcast_to_room
from aiotao.chat.settings import ChatSettings
from aiotao.chat.text import clean_text
from aiotao.websocket.messages import MessageError, MessageHandlers

if TYPE_CHECKING:
    from aiotao.chat.presence import ChatPresence

__all__ = ['ChatConnection']

log = logging.getLogger(__name__)


def _invalid_text(problem: str, message: str) -> MessageError:
    # the same shape as the router's own schema errors
    return MessageError(
        'invalid', message, errors=[{'field': 'text', 'problem': problem}]
    )


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
        self.room = room
        self.nick = nick
        #: The connection's presence ref, while it is in the room.
        self.ref: str | None = None
        self.settings = settings
        self.history = history
        self.presence = presence

    @property
    def registry(self) -> Any:
        return self.ws.request.registry

    async def serve(self) -> None:
        """Serve the client until it leaves, at the settings' rate limit."""
        await self.router.serve(self.ws, self, rate_limit=self.settings.rate_limit)

    async def on_say(self, message: Say) -> dict[str, str]:
        """Store the text, then broadcast it; the reply is the stored id and time."""
        text = clean_text(message.text)
        if not text:
            raise _invalid_text('is empty', 'a message needs some text')
        limit = self.settings.max_length
        if len(text) > limit:
            raise _invalid_text(
                f'must be at most {limit} long',
                f'a message is at most {limit} characters ({len(text)} sent)',
            )
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
        return {'id': stored.id, 'at': protocol.format_time(stored.at)}

    async def on_nick(self, message: Nick) -> dict[str, str]:
        """Rename a guest; a signed-in user keeps the name of their identity."""
        if self.nick.authenticated:
            raise MessageError(
                'not_allowed', 'signed-in users are called by their user name'
            )
        name = check_nickname(message.name)
        if name != self.nick.name:
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
