"""Who is here: presence across the workers and machines of an application.

Any websocket view can track the person behind a connection in a topic
(a chat room, a game lobby, a document being edited), with metadata, and
hear who comes and goes::

    config.include('aiotao.presence')

    presence = get_presence(ws.request.registry)
    unsubscribe = presence.subscribe('doc:42', on_diff)     # joins, leaves, updates
    async with presence.tracking('doc:42', userid, {'name': name}):
        ...                                                 # present meanwhile
    presence.present('doc:42')                              # {userid: meta, ...}

One join when a person's first connection arrives, one leave when their
last one has gone, counted across every worker and machine through the
broadcast backend (``aiotao.broadcast``: memory, Redis or MongoDB).  No
clocks are compared between machines; a worker that dies takes its people
with it only if they do not reconnect elsewhere within
``aiotao.presence.timeout``.

The modules, by concern:

* :mod:`~aiotao.presence.state`: the replicated picture, and what a
  change changes (plain logic, no socket, no clock);
* :mod:`~aiotao.presence.wire`: the messages between processes;
* :mod:`~aiotao.presence.tracker`: the tracker of one process: its API,
  heartbeats, silences, lingering connections;
* :mod:`~aiotao.presence.interface` and :mod:`~aiotao.presence.channels`:
  what carries the messages (the broadcast backend, or a hub in one process);
* :mod:`~aiotao.presence.settings` and :mod:`~aiotao.presence.config`:
  the ``aiotao.presence.*`` settings and ``config.include('aiotao.presence')``.
"""

from aiotao.presence.channels import GroupsChannel, MemoryHub
from aiotao.presence.config import get_presence, includeme
from aiotao.presence.interface import PresenceChannel
from aiotao.presence.settings import PresenceSettings, presence_settings
from aiotao.presence.state import Meta, PresenceDiff, PresenceState
from aiotao.presence.tracker import Listener, Presence

__all__ = [
    'GroupsChannel',
    'Listener',
    'MemoryHub',
    'Meta',
    'Presence',
    'PresenceChannel',
    'PresenceDiff',
    'PresenceSettings',
    'PresenceState',
    'get_presence',
    'includeme',
    'presence_settings',
]
