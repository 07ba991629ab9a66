"""After a broker outage, each chat room's members here get its history again.

Broadcasts between workers go through the broker (``aiotao.broadcast``).
When it fails over (a Sentinel promoting a replica, a Cluster shard taken
over by its replica) or restarts, the messages published while this
worker was cut off never arrive.  None of them is lost for good: a
message is acknowledged only once stored in MongoDB.  So when the
broadcast backend is back and subscribed again
(:meth:`aiotao.websocket.groups.Groups.on_resync`), every room with
members on this worker is sent its recent history, the same ``history``
message a client gets when it joins, with ``"resync": true`` — broadcast,
not only delivered here: the workers reconnect one after the other, and a
message acknowledged on a worker still cut off was never published, so
the members of a worker that reconnected earlier need it too.  Clients
already dedupe by message ``id``, so they show the missed messages and
nothing twice.

What a member can still miss: a message that fell out of the history
window (``aiotao.chat.history_size``) before the broker came back.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from pyramid.registry import Registry

from aiotao.chat import protocol
from aiotao.chat.history import get_history
from aiotao.chat.rooms import GROUP_PREFIX
from aiotao.websocket.groups import get_groups

__all__ = ['resync_rooms', 'watch_for_resync']

log = logging.getLogger(__name__)


async def resync_rooms(registry: Registry, groups: frozenset[str]) -> int:
    """Send the history of each chat room among ``groups`` to its members here; how many rooms."""
    history, local = get_history(registry), get_groups(registry)
    rooms = sorted(
        group[len(GROUP_PREFIX) :] for group in groups if group.startswith(GROUP_PREFIX)
    )
    for room in rooms:
        message = protocol.history(room, await history.recent(room))
        message['resync'] = True
        await local.broadcast(
            GROUP_PREFIX + room, json.dumps(message, separators=(',', ':'))
        )
    if rooms:
        log.info(
            'aiotao.chat: sent the history of %d rooms again after a broker outage',
            len(rooms),
        )
    return len(rooms)


@dataclass(frozen=True, eq=False)
class _Resync:
    """:func:`resync_rooms` for one application (equal for one registry: added once)."""

    registry: Registry

    def __eq__(self, other: object) -> bool:
        # the registry itself, not its contents (a registry is a dict)
        return isinstance(other, _Resync) and other.registry is self.registry

    def __hash__(self) -> int:
        return id(self.registry)

    async def __call__(self, groups: frozenset[str]) -> None:
        await resync_rooms(self.registry, groups)


def watch_for_resync(registry: Registry) -> None:
    """Have :func:`resync_rooms` run after each reconnection of the broadcast backend (once per application).

    ``config.include('aiotao.chat')`` does it when the configuration is
    committed; calling it again changes nothing.
    """
    get_groups(registry).on_resync(_Resync(registry))
