"""The websocket settings of an application, and ``config.include('aiotao.websocket')``.

Including it checks every ``aiotao.websocket.*`` and ``aiotao.broadcast*``
(:mod:`aiotao.websocket.backends`) setting when the
application starts (instead of at the first websocket request), registers
the settings (:class:`~aiotao.interfaces.IWebsocketSettings`) and the
groups on their broadcast backend (:class:`~aiotao.interfaces.IGroups`) as
services (:mod:`aiotao.services`), adds ``request.websocket_groups`` and
the ``config.set_broadcast_backend(backend)`` directive, and closes the
group backend when the server stops::

    config.include('aiotao.websocket')

    @view_config(route_name='post', request_method='POST', renderer='json')
    async def post(request):
        await request.websocket_groups.broadcast('news', request.json_body['text'])
        return {'ok': True}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyramid.config import Configurator
from pyramid.registry import Registry

from aiotao.interfaces import IGroups, IWebsocketSettings
from aiotao.lifecycle import ServerStopping, add_lifecycle_subscriber
from aiotao.services import get_service, register_service
from aiotao.websocket.backends import GroupBackend, backend_from_settings
from aiotao.websocket.backends.settings import BroadcastSettings, read_settings
from aiotao.websocket.groups import Groups
from aiotao.websocket.handshake import OriginPolicy, origin_policy_from_settings
from aiotao.websocket.limits import Limits, limits_from_settings

__all__ = ['WebsocketSettings', 'get_settings', 'includeme', 'set_broadcast_backend']

INCLUDE = 'aiotao.websocket'


@dataclass(frozen=True, slots=True)
class WebsocketSettings:
    """Everything the ``aiotao.websocket.*`` and ``aiotao.broadcast*`` settings decide."""

    limits: Limits
    origins: OriginPolicy
    broadcast: BroadcastSettings

    @classmethod
    def from_settings(cls, settings: Any) -> WebsocketSettings:
        """Parse the settings; a bad one raises ``ConfigurationError`` naming it."""
        return cls(
            limits=limits_from_settings(settings),
            origins=origin_policy_from_settings(settings),
            broadcast=read_settings(settings),
        )


def get_settings(registry: Registry) -> WebsocketSettings:
    """The application's :class:`WebsocketSettings` (registered by the include)."""
    return get_service(registry, IWebsocketSettings, INCLUDE)  # type: ignore[no-any-return]


def set_broadcast_backend(config: Configurator, backend: GroupBackend) -> None:
    """``config.set_broadcast_backend(backend)``: broadcast through ``backend``.

    Instead of the one the ``aiotao.broadcast`` setting names.  Called by
    the application's own configuration, it overrides the include's; two
    includes setting one each conflict at commit.
    """
    register_service(
        config,
        IGroups,
        lambda registry: Groups(backend),
        title=f'broadcast groups ({type(backend).__name__})',
        include=INCLUDE,
    )


def _groups_from_settings(registry: Registry) -> Groups:
    return Groups(backend_from_settings(getattr(registry, 'settings', None), registry))


def _describe(broadcast: BroadcastSettings) -> str:
    if broadcast.kind == 'redis':
        return broadcast.display_url
    if broadcast.kind == 'factory':
        return getattr(broadcast.factory, '__qualname__', repr(broadcast.factory))
    return broadcast.kind


async def close_groups(event: ServerStopping) -> None:
    groups = event.registry.queryUtility(IGroups)
    if groups is not None:
        await groups.close()


def includeme(config: Configurator) -> None:
    settings = config.get_settings()
    # parse now: a bad setting stops the application from starting
    parsed = WebsocketSettings.from_settings(settings)
    register_service(
        config,
        IWebsocketSettings,
        lambda registry: WebsocketSettings.from_settings(registry.settings),
        title='websocket settings',
        include=INCLUDE,
    )
    register_service(
        config,
        IGroups,
        _groups_from_settings,
        title=f'broadcast groups ({_describe(parsed.broadcast)})',
        include=INCLUDE,
    )
    config.add_directive('set_broadcast_backend', set_broadcast_backend)
    config.include('aiotao.websocket.asyncapi')
    # request.websocket_groups is a property of aiotao's request class
    # (aiotao.request): an add_request_method property would cost every
    # request a new class.
    add_lifecycle_subscriber(config, close_groups, ServerStopping)
