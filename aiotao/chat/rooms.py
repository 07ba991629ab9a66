"""Chat room names, and what is said to a whole room.

A room is named in the URL (``/chat/{room}``), so its name is checked
before anything is stored under it: 1 to 40 ASCII letters, digits, ``_``,
``-`` and ``.``, starting with a letter or a digit.

>>> valid_room('lobby'), valid_room('../etc'), valid_room('')
(True, False, False)
>>> group_name('lobby')
'aiotao.chat:lobby'
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from pyramid.registry import Registry

from aiotao.websocket.groups import get_groups

__all__ = ['MAX_ROOM_LENGTH', 'broadcast_to_room', 'group_name', 'valid_room']

log = logging.getLogger(__name__)

MAX_ROOM_LENGTH = 40
_ROOM = re.compile(rf'[A-Za-z0-9][A-Za-z0-9_.-]{{0,{MAX_ROOM_LENGTH - 1}}}')

#: Names the websocket group of a room; the prefix keeps chat rooms apart
#: from the application's other groups (a game room named "lobby").
GROUP_PREFIX = 'aiotao.chat:'


def valid_room(name: str) -> bool:
    """``True`` if ``name`` may name a room."""
    return isinstance(name, str) and _ROOM.fullmatch(name) is not None


def group_name(room: str) -> str:
    """The websocket group whose members are in ``room``."""
    return GROUP_PREFIX + room


async def broadcast_to_room(registry: Registry, room: str, message: Any) -> None:
    """Send the JSON ``message`` to everyone in ``room``, in every worker."""
    await get_groups(registry).broadcast(
        group_name(room), json.dumps(message, separators=(',', ':'))
    )
