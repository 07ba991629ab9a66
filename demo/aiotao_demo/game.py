"""The demo's arena shooter: ``/game`` (the page), ``/game/ws`` (its websocket)
and ``/game/metrics`` (this worker's rooms and their tick times, as JSON).

Included by the demo's ``main`` with ``config.include('aiotao_demo.game')``;
the room server comes from :mod:`aiotao.game`, the rules and the browser
client are the demo's own (:mod:`aiotao_demo.arena`, ``static/arena.js``):
``aiotao.game.rules`` is the arena unless the ini names other rules.
"""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator

from aiotao.game import get_game, serve_game
from aiotao.mappers import WebsocketMapper
from aiotao.serving.admission import worker_admission

#: The demo's game, unless ``aiotao.game.rules`` names another.
RULES = 'aiotao_demo.arena.Arena'


async def game_page(request: Any) -> dict[str, Any]:
    return {}


async def game_metrics(request: Any) -> dict[str, Any]:
    lobby = get_game(request.registry).lobby
    admission = worker_admission()
    return {
        'worker': lobby.worker,
        'rooms': lobby.metrics(),
        # the rooms tick on the worker's loop: its lag is their lateness
        'admission': admission.metrics() if admission is not None else None,
    }


def includeme(config: Configurator) -> None:
    config.include('aiotao.websocket')
    if not config.get_settings().get('aiotao.game.rules'):
        config.add_settings({'aiotao.game.rules': RULES})
    config.include('aiotao.game')
    config.add_route('game', '/game')
    config.add_view(
        game_page, route_name='game', renderer='aiotao_demo:templates/game.jinja2'
    )
    config.add_route('game_ws', '/game/ws')
    config.add_view(serve_game, route_name='game_ws', mapper=WebsocketMapper)
    config.add_asyncapi_channel(
        'game_ws',
        lambda registry: get_game(registry).router,
        description='The arena: join a room, send inputs each frame, leave (aiotao.game).',
    )
    config.add_route('game_metrics', '/game/metrics')
    config.add_view(game_metrics, route_name='game_metrics', renderer='json')
