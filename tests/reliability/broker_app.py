"""The chat and the game in one application, for the broker failover tests.

The chat is the chat tests' app (``tests/chat/app.py``: a header
identity, the worker's pid in the welcome); the game is served at
``/game/ws`` as in ``tests/game/app.py``.
"""

from __future__ import annotations

from typing import Any

from aiotao.game import serve_game
from aiotao.mappers import WebsocketMapper
from tests.chat.app import make_config
from tests.game.app import ARENA


def main(global_config: dict[str, Any], **settings: Any) -> Any:
    config = make_config({'aiotao.game.rules': ARENA, **settings})
    config.include('aiotao.game')
    config.add_route('game', '/game/ws')
    config.add_view(serve_game, route_name='game', mapper=WebsocketMapper)
    return config.make_wsgi_app()
