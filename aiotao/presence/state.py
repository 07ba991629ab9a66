"""Who is present in each topic, from every replica's entries: the socket-free core.

A *replica* is one process that tracks presences (a gunicorn worker).  It
owns the entries of its own connections, ``(topic, key, ref) -> meta``:
``key`` names a person (a user id), ``ref`` one of their connections.  Its
entries reach the other replicas as *deltas* numbered by a per-replica
version, so that a receiver that missed one notices the gap and asks for
the replica's whole *state* instead.

A key is present in a topic while any replica holds an entry for it: its
first entry anywhere is a *join*, the removal of its last one a *leave*.
Each entry carries a stamp, a Lamport clock with the replica id as the
tie-break; the key's meta is that of its entry with the highest stamp, so
every replica shows the same meta and no wall clocks are compared.  A
change of that meta is an *update*.

>>> state = PresenceState('w1')
>>> delta, diffs = state.track('lobby', 'ada', 'c1', {'nick': 'ada'})
>>> diffs
[PresenceDiff(topic='lobby', joins={'ada': {'nick': 'ada'}}, leaves={}, updates={}, catch_up=False)]
>>> state.track('lobby', 'ada', 'c2', {'nick': 'ada'})[1]   # a second tab: no join
[]
>>> other = PresenceState('w2')
>>> other.apply_delta('w1', delta.version, delta.changes)[0].joins
{'ada': {'nick': 'ada'}}
>>> other.apply_delta('w1', 5, [])     # versions 2 to 4 never came: a gap
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    'Change',
    'Delta',
    'Meta',
    'PresenceDiff',
    'PresenceState',
    'StateEntry',
    'add',
    'remove',
]

#: What is known of a person's presence: JSON-able (it travels between replicas).
Meta = dict[str, Any]
#: A change of one replica's entries, as it travels: ``['+', topic, key,
#: ref, meta, lamport]`` adds or replaces an entry, ``['-', topic, key,
#: ref]`` removes one.
Change = list[Any]
#: One entry of a replica's whole state: ``[topic, key, ref, meta, lamport]``.
StateEntry = list[Any]

_Stamp = tuple[int, str]
_Slot = tuple[str, str, str]  # (topic, key, ref)


def add(topic: str, key: str, ref: str, meta: Meta, lamport: int) -> Change:
    """The change that adds (or replaces) an entry."""
    return ['+', topic, key, ref, meta, lamport]


def remove(topic: str, key: str, ref: str) -> Change:
    """The change that removes an entry."""
    return ['-', topic, key, ref]


@dataclass(frozen=True, slots=True)
class Delta:
    """Changes of one replica's entries, numbered by its version after them."""

    replica: str
    version: int
    changes: list[Change]


@dataclass(slots=True)
class PresenceDiff:
    """What changed in one topic: who joined, who left, whose meta changed.

    ``joins`` and ``leaves`` map keys to their meta (a leave's is the last
    one shown); ``updates`` map keys to ``(old, new)``.  ``catch_up`` is
    ``True`` when the changes come from a replica heard of for the first
    time (this replica started, or that one did): those people were there
    before, they did not just arrive.
    """

    topic: str
    joins: dict[str, Meta] = field(default_factory=dict)
    leaves: dict[str, Meta] = field(default_factory=dict)
    updates: dict[str, tuple[Meta, Meta]] = field(default_factory=dict)
    catch_up: bool = False


@dataclass(slots=True)
class _Entry:
    meta: Meta
    stamp: _Stamp


@dataclass(slots=True)
class _Replica:
    version: int = 0
    entries: dict[_Slot, _Entry] = field(default_factory=dict)


class PresenceState:
    """The entries of every known replica, this one's (``replica``) included.

    Not thread-safe, and not async: the tracker calls it on its loop, and
    every method returns at once with what changed.
    """

    def __init__(self, replica: str) -> None:
        self.replica = replica
        self._replicas: dict[str, _Replica] = {replica: _Replica()}
        #: topic -> key -> (replica, ref) -> entry: the keys present.
        self._topics: dict[str, dict[str, dict[tuple[str, str], _Entry]]] = {}
        self._lamport = 0

    # -- queries -----------------------------------------------------------

    @property
    def version(self) -> int:
        """This replica's version (changes it made so far)."""
        return self._replicas[self.replica].version

    def knows(self, replica: str) -> bool:
        return replica in self._replicas

    def version_of(self, replica: str) -> int | None:
        """The version of ``replica`` last applied here; ``None`` if unknown."""
        known = self._replicas.get(replica)
        return None if known is None else known.version

    def replicas(self) -> list[str]:
        """The other replicas known here."""
        return [name for name in self._replicas if name != self.replica]

    def present(self, topic: str) -> dict[str, Meta]:
        """The keys present in ``topic`` and their meta, in every replica.

        >>> state = PresenceState('w1')
        >>> _ = state.track('lobby', 'bob', 'c1', {'nick': 'bob'})
        >>> state.present('lobby'), state.present('kitchen')
        ({'bob': {'nick': 'bob'}}, {})
        """
        keys = self._topics.get(topic, {})
        return {key: _shown(entries) for key, entries in keys.items()}

    def meta_of(self, topic: str, key: str) -> Meta | None:
        """The meta of ``key`` in ``topic``, or ``None`` if absent."""
        entries = self._topics.get(topic, {}).get(key)
        return _shown(entries) if entries else None

    def snapshot(self, replica: str | None = None) -> list[StateEntry]:
        """The entries of ``replica`` (this one's by default), for a ``state`` message."""
        known = self._replicas.get(replica or self.replica)
        if known is None:
            return []
        return [
            [topic, key, ref, entry.meta, entry.stamp[0]]
            for (topic, key, ref), entry in known.entries.items()
        ]

    def owns(self, topic: str, key: str, ref: str) -> bool:
        """Whether this replica holds the entry ``(topic, key, ref)``."""
        return (topic, key, ref) in self._replicas[self.replica].entries

    def own_refs(self, topic: str, key: str) -> list[str]:
        """The refs this replica holds for ``key`` in ``topic``."""
        entries = self._topics.get(topic, {}).get(key, {})
        return [ref for (replica, ref) in entries if replica == self.replica]

    # -- this replica's changes ----------------------------------------------

    def local(self, changes: Sequence[Change]) -> tuple[Delta, list[PresenceDiff]]:
        """Apply this replica's own ``changes``; the delta to send, and what changed.

        An added entry gets a fresh stamp, so that the latest meta set
        anywhere is the one shown.
        """
        stamped = []
        for change in changes:
            if change[0] == '+':
                self._lamport += 1
                change = add(change[1], change[2], change[3], change[4], self._lamport)
            stamped.append(change)
        own = self._replicas[self.replica]
        diffs = self._apply(self.replica, own, stamped, catch_up=False)
        own.version += 1
        return Delta(self.replica, own.version, stamped), diffs

    def track(
        self, topic: str, key: str, ref: str, meta: Meta
    ) -> tuple[Delta, list[PresenceDiff]]:
        """Add (or change the meta of) this replica's entry ``ref``."""
        return self.local([add(topic, key, ref, meta, 0)])

    def untrack(
        self, topic: str, key: str, ref: str
    ) -> tuple[Delta, list[PresenceDiff]]:
        """Remove this replica's entry ``ref``."""
        return self.local([remove(topic, key, ref)])

    # -- other replicas' changes -------------------------------------------

    def apply_delta(
        self, replica: str, version: int, changes: Sequence[Change]
    ) -> list[PresenceDiff] | None:
        """Apply a delta of ``replica``; ``None`` if one before it is missing.

        A delta already applied (an old version) changes nothing.  The
        first delta of a replica not known yet (version 1) is applied: it
        had no entries before.
        """
        known = self._replicas.get(replica)
        current = 0 if known is None else known.version
        if version <= current:
            return []
        if version != current + 1:
            return None
        if known is None:
            known = self._replicas[replica] = _Replica()
        diffs = self._apply(replica, known, changes, catch_up=False)
        known.version = version
        return diffs

    def apply_state(
        self, replica: str, version: int, entries: Iterable[StateEntry]
    ) -> list[PresenceDiff]:
        """Replace what is known of ``replica`` with its whole state.

        An older state than what is known changes nothing.  The state of a
        replica heard of for the first time makes ``catch_up`` diffs.
        """
        known = self._replicas.get(replica)
        if known is not None and version < known.version:
            return []
        catch_up = known is None
        if known is None:
            known = self._replicas[replica] = _Replica()
        wanted = {
            (topic, key, ref): (meta, lamport)
            for topic, key, ref, meta, lamport in entries
        }
        changes: list[Change] = [
            remove(*slot) for slot in known.entries if slot not in wanted
        ]
        for (topic, key, ref), (meta, lamport) in wanted.items():
            entry = known.entries.get((topic, key, ref))
            if entry is None or entry.meta != meta or entry.stamp[0] != lamport:
                changes.append(add(topic, key, ref, meta, lamport))
        diffs = self._apply(replica, known, changes, catch_up=catch_up)
        known.version = version
        return diffs

    def meet(self, replica: str) -> None:
        """Know ``replica`` with no entries at version 0 (it said hello)."""
        self._replicas.setdefault(replica, _Replica())

    def forget(self, replica: str) -> list[PresenceDiff]:
        """Drop every entry of ``replica`` (it stopped); the leaves that makes."""
        if replica == self.replica:
            return []
        known = self._replicas.pop(replica, None)
        if known is None:
            return []
        changes = [remove(*slot) for slot in known.entries]
        return self._apply(replica, known, changes, catch_up=False)

    # -- applying ------------------------------------------------------------

    def _apply(
        self,
        replica: str,
        known: _Replica,
        changes: Sequence[Change],
        *,
        catch_up: bool,
    ) -> list[PresenceDiff]:
        before: dict[tuple[str, str], Meta | None] = {}
        for change in changes:
            topic, key, ref = change[1], change[2], change[3]
            if (topic, key) not in before:
                before[topic, key] = self.meta_of(topic, key)
            slot = (topic, key, ref)
            if change[0] == '+':
                lamport = int(change[5])
                self._lamport = max(self._lamport, lamport)
                entry = _Entry(change[4], (lamport, replica))
                known.entries[slot] = entry
                self._topics.setdefault(topic, {}).setdefault(key, {})[replica, ref] = (
                    entry
                )
            elif known.entries.pop(slot, None) is not None:
                keys = self._topics[topic]
                entries = keys[key]
                del entries[replica, ref]
                if not entries:
                    del keys[key]
                    if not keys:
                        del self._topics[topic]
        return self._diffs(before, catch_up)

    def _diffs(
        self, before: dict[tuple[str, str], Meta | None], catch_up: bool
    ) -> list[PresenceDiff]:
        diffs: dict[str, PresenceDiff] = {}
        for (topic, key), old in before.items():
            new = self.meta_of(topic, key)
            if old == new:
                continue
            diff = diffs.get(topic)
            if diff is None:
                diff = diffs[topic] = PresenceDiff(topic, catch_up=catch_up)
            if old is None:
                assert new is not None
                diff.joins[key] = new
            elif new is None:
                diff.leaves[key] = old
            else:
                diff.updates[key] = (old, new)
        return list(diffs.values())


def _shown(entries: dict[tuple[str, str], _Entry]) -> Meta:
    return max(entries.values(), key=lambda entry: entry.stamp).meta
