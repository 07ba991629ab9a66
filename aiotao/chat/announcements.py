"""Telling a room who came and went: an event, then the new member list.

Each announcement is two broadcasts to the room: the event (``joined``,
``left``, ``renamed``) for the room's log, then ``members`` read from the
shared presence store, so every client's list is the store's, whichever
worker the change happened on.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pyramid.registry import Registry

from aiotao.chat import protocol
from aiotao.chat.rooms import broadcast_to_room

if TYPE_CHECKING:
    from aiotao.chat.presence import Presence

__all__ = ['announce']

log = logging.getLogger(__name__)


async def announce(
    registry: Registry, presence: Presence, room: str, event: dict[str, Any]
) -> None:
    """Broadcast ``event`` to ``room``, then its members.

    >>> await announce(registry, presence, 'lobby', protocol.joined('lobby', 'ada'))  # doctest: +SKIP
    """
    await broadcast_to_room(registry, room, event)
    names = await presence.members(room)
    await broadcast_to_room(registry, room, protocol.members(room, names))
