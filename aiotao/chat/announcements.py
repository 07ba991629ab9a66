"""Telling a room who came, went or changed names: the events, then the members.

Plain logic: a presence change of a room (a
:class:`~aiotao.presence.PresenceDiff`) becomes the messages its pages get,
``joined`` / ``left`` / ``renamed`` for the log, then ``members`` for the
list.  The people a worker learns of when it starts (``catch_up``) were
there before: they change the list, and make no line.

>>> from aiotao.presence import PresenceDiff
>>> diff = PresenceDiff('aiotao.chat:lobby', joins={'user:bob': {'nick': 'bob'}})
>>> [m['type'] for m in announcements('lobby', diff, ['ada', 'bob'])]
['joined', 'members']
>>> diff = PresenceDiff('aiotao.chat:lobby', joins={'user:bob': {'nick': 'bob'}}, catch_up=True)
>>> [m['type'] for m in announcements('lobby', diff, ['ada', 'bob'])]
['members']
"""

from __future__ import annotations

from typing import Any

from aiotao.chat import protocol
from aiotao.presence import PresenceDiff

__all__ = ['announcements']


def announcements(
    room: str, diff: PresenceDiff, members: list[str]
) -> list[dict[str, Any]]:
    """The messages ``diff`` makes in ``room``, whose members are now ``members``."""
    messages = []
    if not diff.catch_up:
        messages += [protocol.joined(room, m['nick']) for m in diff.joins.values()]
        messages += [protocol.left(room, m['nick']) for m in diff.leaves.values()]
    messages += [
        protocol.renamed(room, new['nick'], old['nick'])
        for old, new in diff.updates.values()
        if old.get('nick') != new.get('nick')
    ]
    if messages or diff.joins or diff.leaves:
        messages.append(protocol.members(room, members))
    return messages
