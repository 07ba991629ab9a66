"""``config.include('aiotao.game')`` and the game's websocket view.

Including it checks the ``aiotao.game.*`` settings (a bad one stops the
application from starting, naming it), serves the arena's browser client
as a static asset (``request.static_path('aiotao.game:static/arena.js')``)
and closes every room when the server stops.  The application adds the
route of the websocket::

    config.include('aiotao.websocket')
    config.include('aiotao.game')
    config.add_route('game', '/game/ws')
    config.add_view(serve_game, route_name='game', mapper=WebsocketMapper)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from pyramid.config import Configurator
from pyramid.registry import Registry

from aiotao.game.encoding import SUBPROTOCOLS
from aiotao.game.lobby import Lobby
from aiotao.game.protocol import GameSession, make_router, serve_session
from aiotao.game.settings import GameSettings
from aiotao.lifecycle import ServerStopping, add_lifecycle_subscriber
from aiotao.websocket.groups import get_groups
from aiotao.websocket.messages import MessageRouter

__all__ = ['Game', 'get_game', 'includeme', 'serve_game']

_REGISTRY_KEY = 'aiotao.game'
#: Where the browser client is served (``aiotao.game:static``).
STATIC_NAME = '_aiotao/game'


@dataclass(frozen=True, slots=True)
class Game:
    """The game of one application in this process."""

    settings: GameSettings
    lobby: Lobby
    router: MessageRouter


def get_game(registry: Registry) -> Game:
    """The application's :class:`Game` (made on first use, in the serving process).

    >>> from pyramid.registry import Registry
    >>> registry = Registry('demo'); registry.settings = {}
    >>> get_game(registry).settings.tick_rate
    20.0
    """
    game = registry.get(_REGISTRY_KEY)
    if game is None:
        settings = GameSettings.from_settings(getattr(registry, 'settings', None))
        game = registry[_REGISTRY_KEY] = Game(
            settings,
            Lobby(settings, get_groups(registry), registry=registry),
            make_router(settings.rules.input_schema, settings.max_messages_per_second),
        )
    return game  # type: ignore[no-any-return]


async def serve_game(ws: Any) -> None:
    """The game's websocket view (map it with ``mapper=WebsocketMapper``)."""
    game = get_game(ws.request.registry)
    await ws.send_json(
        {
            'type': 'hello',
            'worker': os.getpid(),
            'tick_rate': game.settings.tick_rate,
            'max_players': game.settings.rules.max_players,
        }
    )
    await serve_session(game.router, GameSession(ws, game.lobby))


# (issue 22) the encodings a client asks for at the handshake
serve_game.__websocket_subprotocols__ = SUBPROTOCOLS  # type: ignore[attr-defined]


async def close_game(event: ServerStopping) -> None:
    game = event.registry.get(_REGISTRY_KEY)
    if game is not None:
        await game.lobby.close()


def includeme(config: Configurator) -> None:
    # parse now: a bad setting stops the application from starting
    GameSettings.from_settings(config.get_settings())
    config.add_static_view(STATIC_NAME, 'aiotao.game:static', cache_max_age=3600)
    add_lifecycle_subscriber(config, close_game, ServerStopping)
