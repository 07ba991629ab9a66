"""The game application the websocket tests serve, and a rules class that fails."""

from __future__ import annotations

from typing import Any

from aiotao_demo.arena import Arena
from pyramid.config import Configurator

from aiotao.game import serve_game
from aiotao.mappers import WebsocketMapper

#: The game the engine's tests play: the demo app's arena shooter (a whole
#: game, with bots and checkpoints; aiotao itself ships no rules).
ARENA = 'aiotao_demo.arena.Arena'

#: Short timeouts so that tests of the grace period and cleanup take a second.
TEST_SETTINGS = {
    'aiotao.game.rules': ARENA,
    'aiotao.game.grace_period': '5',
    'aiotao.game.empty_timeout': '0.3',
}


class CrashingArena(Arena):
    """The arena, with a bug: a tick with a player named 'boom' raises."""

    def step(self, dt: float) -> None:
        if any(ship.name == 'boom' for ship in self.ships.values()):
            raise RuntimeError('boom: a bug in the game rules')
        super().step(dt)


class TallyArena(Arena):
    """The arena, where each shot fired scores a point: scores grow without aiming."""

    def _fire(self, id: str, ship: Any) -> None:
        super()._fire(id, ship)
        ship.score += 1


def make_app(**settings: str) -> Any:
    config = Configurator(settings={**TEST_SETTINGS, **settings})
    config.include('aiotao')
    config.include('aiotao.websocket')
    config.include('aiotao.game')
    config.add_route('game', '/game/ws')
    config.add_view(serve_game, route_name='game', mapper=WebsocketMapper)
    return config.make_wsgi_app()


def main(global_config: dict[str, Any], **settings: str) -> Any:
    """The PasteDeploy factory, for the tests that run gunicorn."""
    return make_app(**settings)
