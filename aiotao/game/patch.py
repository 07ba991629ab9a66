"""Only what changed: JSON merge patches (RFC 7386) between two snapshots.

A patch holds the keys whose values changed; a removed key is ``null``;
nested objects are patched key by key, anything else is replaced whole.
So a snapshot keyed by id (``{'players': {'p1': {...}}}``) costs, per tick,
only the players that moved:

>>> before = {'players': {'p1': {'x': 1, 'y': 2}, 'p2': {'x': 5, 'y': 5}}}
>>> after = {'players': {'p1': {'x': 3, 'y': 2}}}
>>> merge_diff(before, after)
{'players': {'p1': {'x': 3}, 'p2': None}}
>>> merge_apply(before, merge_diff(before, after)) == after
True

``null`` means "removed", so snapshots should not hold ``None`` values.
"""

from __future__ import annotations

from typing import Any

__all__ = ['merge_apply', 'merge_diff']


def merge_diff(previous: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """The merge patch turning ``previous`` into ``current`` (``{}``: no change)."""
    patch: dict[str, Any] = {}
    for key, value in current.items():
        old = previous.get(key, _MISSING)
        if old == value:
            # (compared in C, nested objects too: most of a snapshot did not
            # change since the last tick, and is passed over at this cost)
            continue
        if old is _MISSING:
            patch[key] = value
        elif isinstance(value, dict) and isinstance(old, dict):
            nested = merge_diff(old, value)
            if nested:
                patch[key] = nested
        else:
            patch[key] = value
    for key in previous:
        if key not in current:
            patch[key] = None
    return patch


def merge_apply(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """``target`` with ``patch`` applied (a new dict; ``target`` is unchanged)."""
    result = dict(target)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            old = result.get(key)
            result[key] = merge_apply(old if isinstance(old, dict) else {}, value)
        else:
            result[key] = value
    return result


_MISSING: Any = object()
