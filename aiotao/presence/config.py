"""``config.include('aiotao.presence')`` and the application's tracker.

::

    config.include('aiotao.presence')      # checks the aiotao.presence.* settings

    @view_config(route_name='room', mapper=WebsocketMapper)
    async def room(ws):
        presence = get_presence(ws.request.registry)
        async with presence.tracking('room:lobby', userid, {'nick': nick}):
            async for message in ws:
                ...

Including it checks the settings (:mod:`aiotao.presence.settings`) at
once, includes ``aiotao.websocket`` (the tracker talks through its
broadcast backend) and stops the tracker when the server stops.
"""

from __future__ import annotations

from pyramid.config import Configurator
from pyramid.registry import Registry

from aiotao.lifecycle import ServerStopping, add_lifecycle_subscriber
from aiotao.presence.channels import GroupsChannel
from aiotao.presence.settings import get_presence_settings, presence_settings
from aiotao.presence.tracker import Presence
from aiotao.websocket.groups import get_groups
from aiotao.websocket.shutdown import closing

__all__ = ['get_presence', 'includeme']

_REGISTRY_KEY = 'aiotao.presence'


def get_presence(registry: Registry) -> Presence:
    """The application's tracker in this process (made on first use).

    It talks through the application's broadcast backend
    (``aiotao.broadcast``), so every worker of every machine sharing it
    sees the same people.

    >>> from pyramid.registry import Registry
    >>> registry = Registry('demo'); registry.settings = {}
    >>> get_presence(registry) is get_presence(registry)
    True
    """
    presence = registry.get(_REGISTRY_KEY)
    if presence is None:
        presence = registry[_REGISTRY_KEY] = Presence(
            GroupsChannel(get_groups(registry)),
            get_presence_settings(registry),
            going_away=closing,
        )
    return presence  # type: ignore[no-any-return]


async def stop_presence(event: ServerStopping) -> None:
    presence = event.registry.get(_REGISTRY_KEY)
    if presence is not None:
        await presence.close()


def includeme(config: Configurator) -> None:
    # parse now: a bad setting stops the application from starting
    presence_settings(config.get_settings())
    config.include('aiotao.websocket')
    # before the groups close (order): the tracker leaves its group first
    add_lifecycle_subscriber(config, stop_presence, ServerStopping, order=-1)
