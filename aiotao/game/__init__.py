"""An authoritative real-time multiplayer room server.

Game rules are a small class (:class:`GameRules`: ``on_join``,
``on_input``, ``step(dt)``, ``snapshot()``); aiotao runs them in rooms
with a fixed-rate tick loop, matches players into rooms, plays bots,
keeps a dropped player's seat for a grace period, isolates a failing room
and relays players between workers.  In the application::

    config.include('aiotao.websocket')
    config.include('aiotao.game')        # settings: aiotao.game.* (rules required)
    config.add_route('game', '/game/ws')
    config.add_view(serve_game, route_name='game', mapper=WebsocketMapper)

The modules, by concern:

* :mod:`~aiotao.game.rules`: the base class of game rules;
* :mod:`~aiotao.game.room`: a room: seats, inputs, the tick;
* :mod:`~aiotao.game.clock`: a room's deadlines, late and skipped periods;
* :mod:`~aiotao.game.checkpoint`: a room written down, to resume elsewhere;
* :mod:`~aiotao.game.patch`: only what changed between two snapshots;
* :mod:`~aiotao.game.metrics`: tick-time metrics;
* :mod:`~aiotao.game.names`: names for players who chose none;
* :mod:`~aiotao.game.lobby`: the rooms of a process, matchmaking;
* :mod:`~aiotao.game.directory`: which worker owns which room;
* :mod:`~aiotao.game.relay`: players on one worker, rooms on another;
* :mod:`~aiotao.game.relay_requests`: a relayed request decoded, or refused;
* :mod:`~aiotao.game.session`: one player's session, socket-free (events
  in, actions out);
* :mod:`~aiotao.game.connection`: the session's driver on a websocket;
* :mod:`~aiotao.game.protocol`: the websocket messages and their router;
* :mod:`~aiotao.game.errors`: what a player may be refused;
* :mod:`~aiotao.game.settings` and :mod:`~aiotao.game.config`: the
  ``aiotao.game.*`` settings and ``config.include('aiotao.game')``.

``aiotao.game.rules`` names the game's rules class; aiotao ships none.  The
websocket scaffold's projects (``pcreate -s aiotao_websocket``) start with an
arena shooter as their own code (``arena.py`` and its browser client
``static/arena.js``), the same as the demo app's in the repository.
"""

from aiotao.game.config import Game, get_game, includeme, serve_game
from aiotao.game.errors import GameError
from aiotao.game.lobby import Lobby
from aiotao.game.room import Room
from aiotao.game.rules import GameRules, InvalidInput, Player
from aiotao.game.settings import GameSettings

__all__ = [
    'Game',
    'GameError',
    'GameRules',
    'GameSettings',
    'InvalidInput',
    'Lobby',
    'Player',
    'Room',
    'get_game',
    'includeme',
    'serve_game',
]
