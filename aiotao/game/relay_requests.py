"""The requests a room's owner hears from other workers, decoded.

Workers holding relayed players tell a room's owner, in its control
group (:func:`aiotao.game.relay.control_group`), what their players do::

    {"op": "join", "conn": "c1", "name": "ana", "encoding": "msgpack"}
    {"op": "rejoin", "conn": "c1", "token": "r1.k2...", "encoding": "json"}
    {"op": "input", "conn": "c1", "seat": "p3", "input": {...}, "token": "r1.k2..."}
    {"op": "alive", "conn": "c1", "token": "r1.k2..."}      # a heartbeat
    {"op": "leave", "conn": "c1", "seat": "p3"}
    {"op": "disconnect", "conn": "c1", "seat": "p3"}
    {"op": "resync"}                    # a worker missed state messages

:func:`decode_request` turns one such message into a request object, or
raises :exc:`BadRelayRequest` saying what is wrong; it is a pure function
(no room, no group, no clock), so a peer sending garbage is tested without
a broker, and :class:`~aiotao.game.relay.ControlInbox` only applies what
it decoded.  Workers trust each other, but a message from a worker of
another version, or a bug, must not break the room: a bad request is
logged and dropped.

>>> from typing import Any
>>> from aiotao.websocket.schema import Schema
>>> decode_request('{"op": "leave", "conn": "c1", "seat": "p3"}', Schema(Any))
Leave(conn='c1', seat='p3')
>>> decode_request('{"op": "leave", "conn": "c1"}', Schema(Any))
Traceback (most recent call last):
  ...
aiotao.game.relay_requests.BadRelayRequest: 'leave' needs 'seat' (a string)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiotao.game.encoding import ENCODINGS
from aiotao.websocket.schema import Schema, SchemaError

__all__ = [
    'Alive',
    'BadRelayRequest',
    'Disconnect',
    'Input',
    'Join',
    'Leave',
    'Rejoin',
    'RelayRequest',
    'Resync',
    'decode_request',
]


class BadRelayRequest(ValueError):
    """A message in a control group that is no relay request (the message says why)."""


@dataclass(frozen=True, slots=True)
class Join:
    """A player relayed from connection ``conn`` asks for a seat."""

    conn: str
    name: str
    #: The encoding the player reads the state in (aiotao.game.encoding);
    #: ``None``: not said, or one this worker cannot write (a worker of
    #: another version): the room sends every encoding.
    encoding: str | None = None


@dataclass(frozen=True, slots=True)
class Rejoin:
    """A relayed player takes the seat of ``token`` back."""

    conn: str
    token: str
    encoding: str | None = None


@dataclass(frozen=True, slots=True)
class Input:
    """A relayed player's input, already loaded with the rules' ``input_schema``.

    ``token`` is its seat's: a room resumed here re-attaches a connection
    it does not know yet by it.
    """

    conn: str
    seat: str
    input: Any
    token: str | None = None


@dataclass(frozen=True, slots=True)
class Alive:
    """A relayed player's heartbeat (and its seat's ``token``, as for an input)."""

    conn: str
    token: str | None = None


@dataclass(frozen=True, slots=True)
class Leave:
    """A relayed player left its seat."""

    conn: str
    seat: str


@dataclass(frozen=True, slots=True)
class Disconnect:
    """A relayed player's connection closed: its seat waits the grace period."""

    conn: str
    seat: str


@dataclass(frozen=True, slots=True)
class Resync:
    """A worker missed state messages: the next one must be a full snapshot."""

    conn: str | None = None


RelayRequest = Join | Rejoin | Input | Alive | Leave | Disconnect | Resync

_OPS = ('join', 'rejoin', 'input', 'alive', 'leave', 'disconnect', 'resync')


def _text(request: dict[str, Any], op: str, field: str) -> str:
    value = request.get(field)
    if not isinstance(value, str):
        raise BadRelayRequest(f'{op!r} needs {field!r} (a string)')
    return value


def _encoding(request: dict[str, Any]) -> str | None:
    name = request.get('encoding')
    return name if isinstance(name, str) and name in ENCODINGS else None


def _optional_text(request: dict[str, Any], field: str) -> str | None:
    # (a missing or malformed token only costs the re-attachment)
    value = request.get(field)
    return value if isinstance(value, str) else None


def decode_request(data: str | bytes, input_schema: Schema[Any]) -> RelayRequest:
    """The request in one control-group message; :exc:`BadRelayRequest` if none.

    ``input_schema`` loads an ``input``'s payload (the rules' input type).

    >>> decode_request(b'{"op": "resync"}', Schema(Any))
    Resync(conn=None)
    >>> decode_request('[1]', Schema(Any))
    Traceback (most recent call last):
      ...
    aiotao.game.relay_requests.BadRelayRequest: a relay request is a JSON object, not a list
    """
    try:
        request = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRelayRequest(f'a relay request is JSON: {exc}') from None
    if not isinstance(request, dict):
        raise BadRelayRequest(
            f'a relay request is a JSON object, not a {type(request).__name__}'
        )
    op = request.get('op')
    if op not in _OPS:
        raise BadRelayRequest(
            f'unknown relay request op {str(op)[:40]!r} (expected one of '
            f'{", ".join(_OPS)})'
        )
    if op == 'resync':
        return Resync(_optional_text(request, 'conn'))
    conn = _text(request, op, 'conn')
    if op == 'join':
        return Join(conn, _text(request, op, 'name'), _encoding(request))
    if op == 'rejoin':
        return Rejoin(conn, _text(request, op, 'token'), _encoding(request))
    if op == 'alive':
        return Alive(conn, _optional_text(request, 'token'))
    seat = _text(request, op, 'seat')
    if op == 'leave':
        return Leave(conn, seat)
    if op == 'disconnect':
        return Disconnect(conn, seat)
    if 'input' not in request:
        raise BadRelayRequest("'input' needs 'input' (the player's input)")
    try:
        loaded = input_schema.load(request['input'])
    except SchemaError as exc:
        raise BadRelayRequest(f'bad input: {exc}') from None
    return Input(conn, seat, loaded, _optional_text(request, 'token'))
