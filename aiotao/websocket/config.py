"""The websocket settings of an application, and ``config.include('aiotao.websocket')``.

Including it checks every ``aiotao.websocket.*`` and ``aiotao.broadcast*``
(:mod:`aiotao.websocket.backends`) setting when the
application starts (instead of at the first websocket request), adds
``request.websocket_groups`` and closes the group backend when the server
stops::

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

from aiotao.lifecycle import ServerStopping, add_lifecycle_subscriber
from aiotao.websocket.backends.settings import BroadcastSettings, read_settings
from aiotao.websocket.groups import get_groups
from aiotao.websocket.handshake import OriginPolicy, origin_policy_from_settings
from aiotao.websocket.limits import Limits, limits_from_settings

__all__ = ['WebsocketSettings', 'get_settings', 'includeme']

_REGISTRY_KEY = 'aiotao.websocket.settings'


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
    """The application's :class:`WebsocketSettings`, parsed once."""
    parsed = registry.get(_REGISTRY_KEY)
    if parsed is None:
        parsed = WebsocketSettings.from_settings(getattr(registry, 'settings', None))
        registry[_REGISTRY_KEY] = parsed
    return parsed  # type: ignore[no-any-return]


async def close_groups(event: ServerStopping) -> None:
    await get_groups(event.registry).close()


def includeme(config: Configurator) -> None:
    settings = config.get_settings()
    # parse now: a bad setting stops the application from starting
    WebsocketSettings.from_settings(settings)
    config.include('aiotao.websocket.asyncapi')
    # request.websocket_groups is a property of aiotao's request class
    # (aiotao.request): an add_request_method property would cost every
    # request a new class.
    add_lifecycle_subscriber(config, close_groups, ServerStopping)
