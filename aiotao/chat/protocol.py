"""The chat's messages, on the wire (JSON objects with a ``type``).

Client to server (routed by :class:`aiotao.websocket.MessageRouter`; send
an ``id`` to get a ``reply``)::

    {"type": "say", "id": 1, "text": "hello"}  -> reply {"id": "<message id>", "at": ...}
    {"type": "nick", "id": 2, "name": "ada"}   -> reply {"nick": "ada"}
    {"type": "ping", "id": 3}                  -> reply "pong"

Server to client::

    {"type": "welcome", "room": "lobby", "nick": "guest-3f9a", "max_length": 500,
     "rate": 2, "burst": 5, "signed_in": false, "notice": "..."}  (notice: if renamed here)
    {"type": "history", "room": "lobby", "messages": [<message>, ...]}  oldest first
    {"type": "members", "room": "lobby", "members": ["ada", "guest-3f9a"]}
    {"type": "joined", "room": "lobby", "nick": "ada"}
    {"type": "left", "room": "lobby", "nick": "ada"}
    {"type": "renamed", "room": "lobby", "nick": "ada", "old": "guest-3f9a"}
    {"type": "message", "id": "...", "room": "lobby", "nick": "ada",
     "text": "hello", "at": "2026-11-23T14:02:03.123Z"}
    {"type": "error", "id": 1, "code": "rate_limited", "message": "..."}
    {"type": "error", "id": 2, "code": "nick_taken", "message": "..."}  (also
        invalid, nick_reserved, not_allowed: the name is refused, with why)

A ``say`` is acknowledged (its ``reply``) only once the message is stored
in MongoDB: an acknowledged message is in the history.  Each message has a
server-assigned ``id`` and time ``at``; a client that sees the same ``id``
twice (history and live messages overlap after a reconnect) shows it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from aiotao.chat.settings import MAX_TEXT_LENGTH
from aiotao.websocket.schema import Length

__all__ = [
    'ChatMessage',
    'Nick',
    'Ping',
    'Say',
    'format_time',
    'history',
    'joined',
    'left',
    'members',
    'renamed',
    'welcome',
]

# -- client to server ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Say:
    """Post ``text`` to the room (its length is checked against the settings)."""

    text: Annotated[str, Length(1, MAX_TEXT_LENGTH)]


@dataclass(frozen=True, slots=True)
class Nick:
    """Ask to be called ``name`` (guests only)."""

    name: Annotated[str, Length(1, 100)]


@dataclass(frozen=True, slots=True)
class Ping:
    """Check the connection (answered with ``"pong"``)."""


# -- server to client ---------------------------------------------------------


def format_time(moment: datetime) -> str:
    """``moment`` as an ISO 8601 UTC string, to the millisecond (as stored).

    >>> format_time(datetime(2026, 11, 23, 14, 2, 3, 123456, tzinfo=UTC))
    '2026-11-23T14:02:03.123Z'
    """
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.strftime('%Y-%m-%dT%H:%M:%S.') + f'{moment.microsecond // 1000:03d}Z'


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One stored chat message.

    >>> ChatMessage('m1', 'lobby', 'ada', 'hi', datetime(2026, 1, 2, tzinfo=UTC)).as_json()
    {'type': 'message', 'id': 'm1', 'room': 'lobby', 'nick': 'ada', 'text': 'hi', 'at': '2026-01-02T00:00:00.000Z'}
    """

    id: str
    room: str
    nick: str
    text: str
    at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            'type': 'message',
            'id': self.id,
            'room': self.room,
            'nick': self.nick,
            'text': self.text,
            'at': format_time(self.at),
        }


def welcome(
    room: str,
    nick: str,
    max_length: int,
    *,
    rate: float = 2.0,
    burst: int = 5,
    signed_in: bool = False,
) -> dict[str, Any]:
    """The first message: the client's name, and the limits it must keep.

    >>> welcome('lobby', 'ada', 500)
    {'type': 'welcome', 'room': 'lobby', 'nick': 'ada', 'max_length': 500, 'rate': 2.0, 'burst': 5, 'signed_in': False}
    """
    return {
        'type': 'welcome',
        'room': room,
        'nick': nick,
        'max_length': max_length,
        'rate': rate,
        'burst': burst,
        'signed_in': signed_in,
    }


def history(room: str, messages: list[ChatMessage]) -> dict[str, Any]:
    return {
        'type': 'history',
        'room': room,
        'messages': [message.as_json() for message in messages],
    }


def members(room: str, names: list[str]) -> dict[str, Any]:
    return {'type': 'members', 'room': room, 'members': names}


def joined(room: str, nick: str) -> dict[str, Any]:
    return {'type': 'joined', 'room': room, 'nick': nick}


def left(room: str, nick: str) -> dict[str, Any]:
    return {'type': 'left', 'room': room, 'nick': nick}


def renamed(room: str, nick: str, old: str) -> dict[str, Any]:
    return {'type': 'renamed', 'room': room, 'nick': nick, 'old': old}
