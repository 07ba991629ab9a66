"""What a player may be refused; each is sent to that player as an error message.

They are :class:`~aiotao.websocket.messages.MessageError`\\ s, so a protocol
handler raising one answers ``{"type": "error", "code": ..., "message": ...}``
and keeps the connection open::

    >>> RoomFull('room ab12 is full (10 players)').as_json()
    {'type': 'error', 'code': 'room_full', 'message': 'room ab12 is full (10 players)'}
"""

from __future__ import annotations

from aiotao.websocket.messages import MessageError

__all__ = [
    'BadToken',
    'GameError',
    'NoSuchRoom',
    'NotInRoom',
    'OwnerLost',
    'RoomClosed',
    'RoomFull',
    'TooManyRooms',
]


class GameError(MessageError):
    """Base class: a request of a player the game refuses."""

    code = 'game_error'

    def __init__(self, message: str) -> None:
        super().__init__(self.code, message)


class RoomFull(GameError):
    code = 'room_full'


class NoSuchRoom(GameError):
    code = 'no_such_room'


class RoomClosed(GameError):
    code = 'room_closed'


class OwnerLost(RoomClosed):
    """The worker running the room fell silent: it is gone."""


class BadToken(GameError):
    code = 'bad_token'


class NotInRoom(GameError):
    code = 'not_in_room'


class TooManyRooms(GameError):
    code = 'too_many_rooms'
