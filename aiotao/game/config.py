"""``config.include('aiotao.game')`` and the game's websocket view.

Including it checks the ``aiotao.game.*`` settings (a bad one, or no
``aiotao.game.rules``, stops the application from starting, naming it),
registers the application's :class:`Game` (:class:`~aiotao.interfaces.IGame`,
a service of :mod:`aiotao.services`) and the
``config.set_game_directory(directory)`` directive, and closes every room
when the server stops.  The application adds the route of the websocket::

    config.include('aiotao.websocket')
    config.include('aiotao.game')
    config.add_route('game', '/game/ws')
    config.add_view(serve_game, route_name='game', mapper=WebsocketMapper)
"""

from __future__ import annotations

import os
from typing import Any

from pyramid.config import Configurator
from pyramid.registry import Registry

from aiotao.game.connection import GameConnection, serve_connection
from aiotao.game.directory import RoomDirectory
from aiotao.game.encoding import SUBPROTOCOLS
from aiotao.game.lobby import Lobby
from aiotao.game.protocol import make_router
from aiotao.game.settings import GameSettings
from aiotao.interfaces import IGame
from aiotao.lifecycle import ServerStopping, add_lifecycle_subscriber
from aiotao.services import FEATURES, get_service, register_service
from aiotao.websocket.backends.redis_urls import display_url
from aiotao.websocket.groups import get_groups
from aiotao.websocket.messages import MessageRouter

__all__ = ['Game', 'get_game', 'includeme', 'serve_game', 'set_game_directory']

INCLUDE = 'aiotao.game'


class Game:
    """The game of one application: its settings, messages and rooms.

    Made when the configuration is committed; the :attr:`lobby` (the rooms
    this process owns) is made in the serving process, on first use: it
    names this process in the directory, so a worker forked from the
    process that loaded the application must not inherit its parent's.
    """

    def __init__(
        self,
        settings: GameSettings,
        router: MessageRouter,
        registry: Registry,
        directory: RoomDirectory | None = None,
    ) -> None:
        self.settings = settings
        self.router = router
        self.registry = registry
        #: The directory :meth:`config.set_game_directory` set (``None``: the
        #: one ``aiotao.game.directory`` names, made in each process).
        self.directory = directory
        self._lobby: Lobby | None = None
        self._lobby_pid = 0

    @property
    def lobby(self) -> Lobby:
        """The rooms of this process, and the way to any room."""
        if self._lobby is None or self._lobby_pid != os.getpid():
            self._lobby = Lobby(
                self.settings,
                get_groups(self.registry),
                self.directory,
                registry=self.registry,
            )
            self._lobby_pid = os.getpid()
        return self._lobby

    def _close_lobby(self) -> Lobby | None:
        return self._lobby if self._lobby_pid == os.getpid() else None


def get_game(registry: Registry) -> Game:
    """The application's :class:`Game` (registered by ``config.include('aiotao.game')``).

    >>> from pyramid.config import Configurator
    >>> from aiotao.game.rules import GameRules
    >>> class Idle(GameRules[None]):
    ...     input_schema = type(None)
    >>> config = Configurator(settings={'aiotao.game.rules': Idle})
    >>> config.include('aiotao.game'); config.commit()
    >>> get_game(config.registry).settings.tick_rate
    20.0
    """
    return get_service(registry, IGame, INCLUDE)  # type: ignore[no-any-return]


def _register_game(
    config: Configurator, directory: RoomDirectory | None, title: str
) -> None:
    def make(registry: Registry) -> Game:
        settings = GameSettings.from_settings(getattr(registry, 'settings', None))
        router = make_router(
            settings.rules.input_schema, settings.max_messages_per_second
        )
        return Game(settings, router, registry, directory)

    register_service(config, IGame, make, title=title, include=INCLUDE, order=FEATURES)


def set_game_directory(config: Configurator, directory: RoomDirectory) -> None:
    """``config.set_game_directory(directory)``: the rooms of every worker, there.

    Instead of the directory the ``aiotao.game.directory`` setting names.
    Called by the application's own configuration, it overrides the
    include's; two includes setting one each conflict at commit.
    """
    _register_game(config, directory, f'game ({type(directory).__name__} directory)')


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
    await serve_connection(game.router, GameConnection(ws, game.lobby))


# (issue 22) the encodings a client asks for at the handshake
serve_game.__websocket_subprotocols__ = SUBPROTOCOLS  # type: ignore[attr-defined]


async def close_game(event: ServerStopping) -> None:
    game = event.registry.queryUtility(IGame)
    lobby = game._close_lobby() if game is not None else None
    if lobby is not None:
        await lobby.close()


def includeme(config: Configurator) -> None:
    # parse now: a bad setting stops the application from starting
    settings = GameSettings.from_settings(config.get_settings())
    config.include('aiotao.websocket')
    where = settings.directory
    if where not in ('memory', 'mongodb'):
        where = display_url(where)  # no password in the introspector
    _register_game(config, None, f'game ({where} directory)')
    config.add_directive('set_game_directory', set_game_directory)
    add_lifecycle_subscriber(config, close_game, ServerStopping)
