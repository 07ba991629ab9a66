"""The game's websocket protocol: join a room, send inputs, leave.

Built on :class:`~aiotao.websocket.messages.MessageRouter`, so malformed
messages get an error and the connection stays open, and a client
flooding past ``aiotao.game.max_messages_per_second`` is closed with 1008.

Client to server::

    {"type": "join", "mode": "quick"}                 # the room with most people online, or a new one
    {"type": "join", "mode": "create", "bots": 3}     # a new public room with 3 bots
    {"type": "join", "mode": "private"}               # a new private room (its code in the welcome)
    {"type": "join", "mode": "private", "code": "K7QX2"}
    {"type": "join", "room": "3f2a9c1d"}              # that public room (a shared link)
    {"type": "join", "token": "..."}                  # back to my seat after a reconnection
    {"type": "input", "dx": 1, "dy": 0, "aim": 0.5, "fire": true, "seq": 12}
    {"type": "leave"}

(``join`` also takes ``name``, made unique in the room, and made up when
empty; an ``id`` on any message gets a reply.)

When the worker running a room dies, another worker resumes it from its
last checkpoint (same room id, same seats, scores as they were then):
its players, on every worker, get their seats back with a ``welcome``
whose ``rejoined`` is true and ``resumed`` says what happened, relayed
players by themselves and players of the dead worker when their page
reconnects with its token.  A room that cannot resume (no checkpoint,
rules that cannot write one, a corrupt one) is replaced: its players
are moved together to one new room, each getting ``moved``, then the new
room's ``welcome``.

Server to client::

    {"type": "hello", "worker": 4242, "tick_rate": 20, ...}     # on connect
    {"type": "welcome", "room": "...", "seat": "p3", "token": "...", "code": null, ...}
    {"type": "welcome", ..., "rejoined": true, "resumed": "..."}  # after a failover
    {"type": "snapshot", "tick": 120, "state": {...}}    # the whole state
    {"type": "delta", "tick": 121, "patch": {...}}       # what changed (JSON merge patch)
    {"type": "room_closed", "room": "...", "reason": "..."}
    {"type": "moved", "from": "...", "room": "...", "reason": "..."}  # its worker died: all moved
    {"type": "error", "code": "invalid" | "not_in_room" | "room_full" | ..., "message": "..."}

This module is the messages and the router; a connection's session is
the socket-free :class:`aiotao.game.session.GameSession`, driven by
:class:`aiotao.game.connection.GameConnection`.

The view, in an application that includes ``aiotao.game``::

    config.add_route('game', '/game/ws')
    config.add_view(serve_game, route_name='game', mapper=WebsocketMapper)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, Protocol

from aiotao.websocket.messages import MessageRouter
from aiotao.websocket.ratelimit import RateLimit
from aiotao.websocket.schema import Length, Range

__all__ = ['MAX_NAME', 'GameHandlers', 'Join', 'Leave', 'clean_name', 'make_router']

#: Longest player name kept.
MAX_NAME = 24


@dataclass
class Join:
    """The ``join`` message."""

    mode: Literal['quick', 'create', 'private'] = 'quick'
    #: A private room's code (``mode: private``).
    code: Annotated[str, Length(1, 12)] | None = None
    name: Annotated[str, Length(0, MAX_NAME)] = ''
    #: The seat token of a welcome: take that seat back.
    token: Annotated[str, Length(1, 120)] | None = None
    #: Bots in a room this join opens.
    bots: Annotated[int, Range(0, 63)] = 0
    #: A public room's id: join that one (a link a player shared).
    room: Annotated[str, Length(1, 40)] | None = None


@dataclass
class Leave:
    """The ``leave`` message (no fields)."""


def clean_name(name: str) -> str:
    """A player name without control characters (it is still user text).

    >>> clean_name(' ana\\x00\\n ')
    'ana'
    """
    return ''.join(ch for ch in name if ch.isprintable()).strip()[:MAX_NAME]


class GameHandlers(Protocol):
    """What the router's handlers call: :class:`~aiotao.game.connection.GameConnection`."""

    async def join(self, message: Join) -> dict[str, Any]: ...

    async def input(self, message: Any) -> None: ...

    async def leave(self) -> dict[str, Any]: ...


async def _on_join(player: GameHandlers, message: Join) -> dict[str, Any]:
    return await player.join(message)


async def _on_input(player: GameHandlers, message: Any) -> None:
    await player.input(message)


async def _on_leave(player: GameHandlers, message: Leave) -> dict[str, Any]:
    return await player.leave()


def make_router(
    input_schema: type[Any], max_messages_per_second: float
) -> MessageRouter:
    """The protocol's router, checking inputs against the rules' ``input_schema``."""
    router = MessageRouter(
        rate_limit=RateLimit(
            rate=max_messages_per_second,
            burst=max(1, int(max_messages_per_second)),
            # a game client sends at its frame rate, never a burst of
            # refused messages: a short tolerance before 1008
            close_after=10,
        )
    )
    router.add('join', _on_join, schema=Join)
    router.add('input', _on_input, schema=input_schema)
    router.add('leave', _on_leave, schema=Leave)
    return router


#: Names this module had before the session left it (aiotao.game.connection).
_MOVED = {
    'GameSession': 'GameConnection',
    'LocalLink': 'LocalLink',
    'LocalSeat': 'LocalSeat',
    'serve_session': 'serve_connection',
}


def __getattr__(name: str) -> Any:
    # (imported late: the connection module imports this one)
    if name in _MOVED:
        from aiotao.game import connection

        return getattr(connection, _MOVED[name])
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
