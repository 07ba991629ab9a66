"""One chat client in one room, without a socket: what it may say and be called.

:class:`ChatSession` decides, from the messages a client sends and what
the storage and presence answered, what the client is told: the
``welcome`` and ``history`` it opens with, whether a ``say`` has text to
store (and the reply once stored), whether a ``nick`` is a rename to make,
and the close (1013, try again later) when the database is away.  It
never awaits: :class:`aiotao.chat.connection.ChatConnection` and
:class:`aiotao.chat.views.ChatView` are the driver, reading and writing
the websocket, the history and the presence (as the ``websockets``
library splits its protocol core from its connections), and
``tests/chat/test_session.py`` tests this one without any of them.

>>> from aiotao.chat.nicknames import Nickname
>>> session = ChatSession('lobby', Nickname('ada', key='guest:1'), max_length=20)
>>> session.say('  hello\\x07 ')
'hello'
>>> session.rename(' ada ')                   # (unchanged: nothing to do)
('ada', False)
>>> session.rename('Grace')
('Grace', True)
>>> session.database_lost()
Close(code=1013, reason='the chat database is unavailable')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiotao.chat import protocol
from aiotao.chat.nicknames import Nickname, check_nickname
from aiotao.chat.protocol import ChatMessage
from aiotao.chat.text import clean_text
from aiotao.websocket.messages import MessageError

__all__ = ['TRY_AGAIN_LATER', 'ChatSession', 'Close']

#: Close code: the server cannot serve the chat right now (RFC 6455 1013).
TRY_AGAIN_LATER = 1013


@dataclass(frozen=True, slots=True)
class Close:
    """Close the connection with ``code`` and ``reason``."""

    code: int
    reason: str


def _invalid_text(problem: str, message: str) -> MessageError:
    # the same shape as the router's own schema errors
    return MessageError(
        'invalid', message, errors=[{'field': 'text', 'problem': problem}]
    )


class ChatSession:
    """A client's part in room ``room``, under ``nick``, its texts at most ``max_length``."""

    def __init__(self, room: str, nick: Nickname, *, max_length: int) -> None:
        self.room = room
        #: The client's nickname (the presence renames it).
        self.nick = nick
        self.max_length = max_length

    # -- the opening ----------------------------------------------------------

    def welcome(self, welcome: dict[str, Any], notice: str | None) -> dict[str, Any]:
        """The first message, with the ``notice`` of a nickname changed to fit in.

        >>> from aiotao.chat.nicknames import Nickname
        >>> ChatSession('lobby', Nickname('ada'), max_length=9).welcome(
        ...     {'type': 'welcome'}, 'ada is taken: you are ada 2')
        {'type': 'welcome', 'notice': 'ada is taken: you are ada 2'}
        """
        if notice is not None:
            return {**welcome, 'notice': notice}
        return welcome

    def history(self, recent: list[ChatMessage]) -> dict[str, Any]:
        """The second message: the room's last messages, oldest first."""
        return protocol.history(self.room, recent)

    @staticmethod
    def database_lost() -> Close:
        """The history or the presence cannot be reached: try again later."""
        return Close(TRY_AGAIN_LATER, 'the chat database is unavailable')

    # -- the client's messages -------------------------------------------------

    def say(self, text: str) -> str:
        """The text of a ``say`` to store, cleaned; ``invalid`` if empty or too long."""
        text = clean_text(text)
        if not text:
            raise _invalid_text('is empty', 'a message needs some text')
        limit = self.max_length
        if len(text) > limit:
            raise _invalid_text(
                f'must be at most {limit} long',
                f'a message is at most {limit} characters ({len(text)} sent)',
            )
        return text

    @staticmethod
    def stored(message: ChatMessage) -> dict[str, str]:
        """The reply to a ``say`` once stored: its id and time."""
        return {'id': message.id, 'at': protocol.format_time(message.at)}

    def rename(self, name: str) -> tuple[str, bool]:
        """The name a ``nick`` asks for, checked, and whether it is a new one.

        A signed-in user keeps the name of their identity (``not_allowed``);
        a name a nickname cannot be is ``invalid``.  Whether someone in the
        room goes by it is the presence's to say.
        """
        if self.nick.authenticated:
            raise MessageError(
                'not_allowed', 'signed-in users are called by their user name'
            )
        name = check_nickname(name)
        return name, name != self.nick.name
