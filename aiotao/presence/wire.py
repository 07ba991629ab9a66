"""The messages replicas exchange about presence, as JSON text.

Every message names its sender (``r``, a replica id made at the start of
each process) and, but for ``sync``, the sender's version (``v``)::

    {"p": 1, "op": "hello", "r": "9f2c…", "v": 0}        a replica started: send me your state
    {"p": 1, "op": "beat",  "r": "9f2c…", "v": 12}       still here, at version 12
    {"p": 1, "op": "delta", "r": "9f2c…", "v": 13, "c": [<change>, …]}
    {"p": 1, "op": "sync",  "r": "77ab…", "to": "9f2c…"} send me your whole state
    {"p": 1, "op": "state", "r": "9f2c…", "v": 13, "e": [<entry>, …], "to": "77ab…",
     "o": {"31d0…": [7, [<entry>, …]]}}

Changes and entries are those of :mod:`aiotao.presence.state`.  A
``state`` also tells what its sender knows of the *other* replicas
(``o``: their version and entries), so that a replica starting after
another one died still learns who was on it.  What
arrives is checked before it is used: anything else (another program on
the channel, a truncated message) is a :exc:`ForeignMessage`, which the
tracker logs and skips.

>>> decode(encode(PresenceMessage('beat', 'w1', version=3)))
PresenceMessage(op='beat', replica='w1', version=3, changes=[], entries=[], to=None, others={})
>>> decode('{"op": "beat"}')
Traceback (most recent call last):
...
aiotao.presence.wire.ForeignMessage: not an aiotao presence message (no "p": 1)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiotao.presence.state import Change, StateEntry

__all__ = ['OPS', 'ForeignMessage', 'PresenceMessage', 'decode', 'encode']

OPS = frozenset({'hello', 'beat', 'delta', 'sync', 'state'})
#: Longest replica id, topic, key or ref accepted from the channel.
MAX_NAME = 200
_PROTOCOL = 1


class ForeignMessage(ValueError):
    """A message on the presence channel that aiotao did not send."""


@dataclass(slots=True)
class PresenceMessage:
    """One message between replicas (see the module documentation)."""

    op: str
    replica: str
    version: int = 0
    changes: list[Change] = field(default_factory=list)
    entries: list[StateEntry] = field(default_factory=list)
    #: The replica a ``sync`` or a ``state`` is for (``None``: everyone).
    to: str | None = None
    #: In a ``state``: what its sender knows of other replicas,
    #: ``{replica: (version, entries)}``.
    others: dict[str, tuple[int, list[StateEntry]]] = field(default_factory=dict)


def encode(message: PresenceMessage) -> str:
    """The JSON text of ``message``."""
    data: dict[str, Any] = {'p': _PROTOCOL, 'op': message.op, 'r': message.replica}
    if message.op != 'sync':
        data['v'] = message.version
    if message.op == 'delta':
        data['c'] = message.changes
    if message.op == 'state':
        data['e'] = message.entries
        if message.others:
            data['o'] = {
                replica: [version, entries]
                for replica, (version, entries) in message.others.items()
            }
    if message.to is not None:
        data['to'] = message.to
    return json.dumps(data, separators=(',', ':'))


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_NAME:
        raise ForeignMessage(f'{what} is not a name of 1 to {MAX_NAME} characters')
    return value


def _count(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ForeignMessage(f'{what} is not a whole number')
    return value


def _meta(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ForeignMessage('a meta is not an object')
    return value


def _change(value: Any) -> Change:
    if isinstance(value, list) and len(value) == 6 and value[0] == '+':
        _, topic, key, ref, meta, lamport = value
        return [
            '+',
            _name(topic, 'a topic'),
            _name(key, 'a key'),
            _name(ref, 'a ref'),
            _meta(meta),
            _count(lamport, 'a stamp'),
        ]
    if isinstance(value, list) and len(value) == 4 and value[0] == '-':
        _, topic, key, ref = value
        return ['-', _name(topic, 'a topic'), _name(key, 'a key'), _name(ref, 'a ref')]
    raise ForeignMessage(
        'a change is not ["+", topic, key, ref, meta, stamp] or ["-", …]'
    )


def _entry(value: Any) -> StateEntry:
    if not (isinstance(value, list) and len(value) == 5):
        raise ForeignMessage('a state entry is not [topic, key, ref, meta, stamp]')
    topic, key, ref, meta, lamport = value
    return [
        _name(topic, 'a topic'),
        _name(key, 'a key'),
        _name(ref, 'a ref'),
        _meta(meta),
        _count(lamport, 'a stamp'),
    ]


def _others(value: Any) -> dict[str, tuple[int, list[StateEntry]]]:
    if not isinstance(value, dict):
        raise ForeignMessage('the other replicas are not an object')
    others = {}
    for replica, known in value.items():
        if not (isinstance(known, list) and len(known) == 2):
            raise ForeignMessage('another replica is not [version, entries]')
        others[_name(replica, 'a replica')] = (
            _count(known[0], 'a version'),
            [_entry(e) for e in _list(known[1], 'the entries')],
        )
    return others


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ForeignMessage(f'{what} is not a list')
    return value


def decode(text: str | bytes) -> PresenceMessage:
    """The message in ``text``, checked; :exc:`ForeignMessage` if it is not one."""
    try:
        data = json.loads(text)
    except ValueError:  # also bytes that are not UTF-8
        raise ForeignMessage('not JSON') from None
    if not isinstance(data, dict) or data.get('p') != _PROTOCOL:
        raise ForeignMessage(f'not an aiotao presence message (no "p": {_PROTOCOL})')
    op = data.get('op')
    if op not in OPS:
        raise ForeignMessage(f'unknown op {str(op)[:20]!r}')
    message = PresenceMessage(op, _name(data.get('r'), 'the sender'))
    if op != 'sync':
        message.version = _count(data.get('v'), 'the version')
    if op == 'delta':
        message.changes = [_change(c) for c in _list(data.get('c'), 'the changes')]
    if op == 'state':
        message.entries = [_entry(e) for e in _list(data.get('e'), 'the entries')]
        message.others = _others(data.get('o', {}))
    to = data.get('to')
    if to is not None:
        message.to = _name(to, 'the addressee')
    elif op == 'sync':
        raise ForeignMessage('a sync names no replica ("to")')
    return message
