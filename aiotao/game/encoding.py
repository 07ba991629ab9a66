"""How a room's state messages travel: JSON (the default) or MessagePack.

A client chooses at the handshake, with a websocket subprotocol, which
a browser offers as ``new WebSocket(url, ['aiotao.game.msgpack'])``:

* no subprotocol, ``aiotao.game.json`` or one the server does not know:
  **JSON** text frames, readable in the browser's devtools (a browser
  whose only offer was refused fails the handshake itself: offer
  ``aiotao.game.json`` second to fall back);
* ``aiotao.game.msgpack`` (offered only when the ``msgpack`` package is
  installed: ``pip install aiotao[msgpack]``): the ``snapshot`` and
  ``delta`` messages as **MessagePack** binary frames, the same maps
  (the same JSON merge patches) in fewer bytes.

Only the state messages, 20 a second, change encoding: the others
(``hello``, ``welcome``, replies, errors, ``room_closed``) are rare and
stay JSON text frames, so a client tells them apart by the frame's type
(text or binary) and sends JSON as before.

A room encodes each tick's message once per encoding its players use
(:meth:`Encodings.encode`), and broadcasts each to the state group of that
encoding (:func:`state_group`): a connection joins the group of its own.

Floats are packed as float32 (5 bytes instead of float64's 9): the
arena's snapshots round positions to a tenth and angles to a hundredth,
which float32 holds with room to spare (its 24 bits keep 0.001 below
8,000, 0.01 below 65,000); a client reads ``413.29998779296875`` for
``413.3``, the same to the precision the rules kept.  Rules needing more
digits than that in their snapshots should stay with JSON.

>>> message = {'type': 'delta', 'tick': 7, 'patch': {'p1': {'x': 413.3}}}
>>> len(JSON.encode(message)), len(MSGPACK.encode(message))
(52, 36)
>>> MSGPACK.decode(MSGPACK.encode(message))['patch']['p1']['x']
413.29998779296875
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

try:
    import msgpack
except ImportError:  # pragma: no cover - the [msgpack] extra is not installed
    msgpack = None

__all__ = [
    'ENCODINGS',
    'JSON',
    'MSGPACK',
    'SUBPROTOCOLS',
    'Encoding',
    'Encodings',
    'encoding_of',
    'json_state_group',
    'state_group',
]


@dataclass(frozen=True, slots=True)
class Encoding:
    """One way of writing a state message (a dict) on the wire."""

    name: str
    #: The websocket subprotocol a client offers to get it.
    subprotocol: str
    encode: Callable[[Mapping[str, Any]], str | bytes]
    decode: Callable[[str | bytes], Any]

    def __repr__(self) -> str:
        return f'<Encoding {self.name}>'


def _json_encode(message: Mapping[str, Any]) -> str:
    return json.dumps(message, separators=(',', ':'))


JSON = Encoding('json', 'aiotao.game.json', _json_encode, json.loads)


def _orjson_encoder() -> Callable[[Mapping[str, Any]], str]:
    import orjson  # (the aiotao.json setting checked that it is installed)

    dumps = orjson.dumps

    def encode(message: Mapping[str, Any]) -> str:
        return dumps(message).decode()  # (a text frame)

    return encode


if msgpack is not None:
    _packer = msgpack.Packer(use_single_float=True)
    MSGPACK: Encoding | None = Encoding(
        'msgpack',
        'aiotao.game.msgpack',
        _packer.pack,
        lambda data: msgpack.unpackb(data, raw=False),
    )
else:  # pragma: no cover
    MSGPACK = None

#: The encodings this process can write, by name.
ENCODINGS: dict[str, Encoding] = {
    encoding.name: encoding for encoding in (JSON, MSGPACK) if encoding is not None
}
#: The subprotocols the game's view negotiates, the compact one first.
SUBPROTOCOLS: tuple[str, ...] = tuple(
    encoding.subprotocol for encoding in reversed(ENCODINGS.values())
)
_BY_SUBPROTOCOL = {encoding.subprotocol: encoding for encoding in ENCODINGS.values()}


def encoding_of(subprotocol: str | None) -> Encoding:
    """The encoding of the subprotocol agreed at the handshake (JSON: none).

    >>> encoding_of('aiotao.game.msgpack').name, encoding_of(None).name
    ('msgpack', 'json')
    """
    return _BY_SUBPROTOCOL.get(subprotocol or '', JSON)


def state_group(room_id: str, encoding: Encoding | str = JSON) -> str:
    """The state group of ``room_id`` for the players reading ``encoding``.

    JSON's is the room's state group (:func:`aiotao.game.room.state_group`).
    A relayed player's owner watch listens to the group of the player's
    encoding, which the player's join request names (so the room's owner
    sends only the encodings its players read).

    >>> state_group('r1'), state_group('r1', 'msgpack')
    ('aiotao.game.state.r1', 'aiotao.game.state.r1.msgpack')
    """
    name = encoding if isinstance(encoding, str) else encoding.name
    # (the format of aiotao.game.room.state_group, which cannot be imported
    # here: the room imports this module)
    group = f'aiotao.game.state.{room_id}'
    return group if name == 'json' else f'{group}.{name}'


def json_state_group(group: str) -> str:
    """The JSON state group of the room of ``group`` (the state group of an encoding).

    >>> json_state_group('aiotao.game.state.r1.msgpack')
    'aiotao.game.state.r1'
    >>> json_state_group('aiotao.game.state.r1')
    'aiotao.game.state.r1'
    """
    for name in ENCODINGS:
        if name != 'json' and group.endswith('.' + name):
            return group[: -len(name) - 1]
    return group


class Encodings:
    """What a room sends each tick: its state message, once per encoding in use.

    ``encode(message, names)`` returns ``[(name, group, data), ...]``;
    ``names`` are the encodings the room's players read (``None`` among
    them: a player whose encoding the room does not know, a relayed one,
    gets every one).

    >>> Encodings('r1').encode({'type': 'delta'}, {'json'})
    [('json', 'aiotao.game.state.r1', '{"type":"delta"}')]

    ``json_library`` (the ``aiotao.json`` setting) writes the JSON:
    ``orjson`` writes the same messages some ten times faster (a tick of
    the arena: 17 µs against 1.4), non-ASCII characters as UTF-8 rather
    than ``\\u`` escapes.
    """

    def __init__(self, room_id: str, json_library: str = 'json') -> None:
        self._groups = {name: state_group(room_id, name) for name in ENCODINGS}
        self._encoders = {name: encoding.encode for name, encoding in ENCODINGS.items()}
        if json_library == 'orjson':
            self._encoders['json'] = _orjson_encoder()

    def encode(
        self, message: Mapping[str, Any], names: Iterable[str | None]
    ) -> list[tuple[str, str, str | bytes]]:
        wanted = set(names)
        if None in wanted:
            wanted = set(ENCODINGS)
        return [
            (name, self._groups[name], self._encoders[name](message))
            for name in ENCODINGS  # (a fixed order: JSON first)
            if name in wanted
        ]
