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
broadcast backend), registers the settings
(:class:`~aiotao.interfaces.IPresenceSettings`) and the tracker
(:class:`~aiotao.interfaces.IPresence`) as services (:mod:`aiotao.services`)
and stops the tracker when the server stops.
"""

from __future__ import annotations

from pyramid.config import Configurator
from pyramid.registry import Registry

from aiotao.interfaces import IPresence, IPresenceSettings
from aiotao.lifecycle import ServerStopping, add_lifecycle_subscriber
from aiotao.presence.channels import GroupsChannel
from aiotao.presence.settings import get_presence_settings, presence_settings
from aiotao.presence.tracker import Presence
from aiotao.services import TRACKERS, get_service, register_service
from aiotao.websocket.groups import get_groups
from aiotao.websocket.shutdown import closing

__all__ = ['get_presence', 'includeme']

INCLUDE = 'aiotao.presence'


def get_presence(registry: Registry) -> Presence:
    """The application's tracker in this process.

    It talks through the application's broadcast backend
    (``aiotao.broadcast``), so every worker of every machine sharing it
    sees the same people.  It is made when the configuration is committed
    (it connects on first use, in the serving process):

    >>> from pyramid.config import Configurator
    >>> config = Configurator(settings={})
    >>> config.include('aiotao.presence'); config.commit()
    >>> get_presence(config.registry) is get_presence(config.registry)
    True
    """
    return get_service(registry, IPresence, INCLUDE)  # type: ignore[no-any-return]


def _make_presence(registry: Registry) -> Presence:
    return Presence(
        GroupsChannel(get_groups(registry)),
        get_presence_settings(registry),
        going_away=closing,
    )


async def stop_presence(event: ServerStopping) -> None:
    presence = event.registry.queryUtility(IPresence)
    if presence is not None:
        await presence.close()


def includeme(config: Configurator) -> None:
    # parse now: a bad setting stops the application from starting
    presence_settings(config.get_settings())
    config.include('aiotao.websocket')
    register_service(
        config,
        IPresenceSettings,
        lambda registry: presence_settings(registry.settings),
        title='presence settings',
        include=INCLUDE,
    )
    register_service(
        config,
        IPresence,
        _make_presence,
        title='presence tracker (on the broadcast groups)',
        include=INCLUDE,
        order=TRACKERS,
    )
    # before the groups close (order): the tracker leaves its group first
    add_lifecycle_subscriber(config, stop_presence, ServerStopping, order=-1)
