"""The replicated picture of who is present: joins, leaves and metas, without sockets."""

from __future__ import annotations

from aiotao.presence.state import Delta, PresenceDiff, PresenceState


def replay(target: PresenceState, delta: Delta) -> list[PresenceDiff]:
    diffs = target.apply_delta(delta.replica, delta.version, delta.changes)
    assert diffs is not None, 'a gap where none was expected'
    return diffs


def test_one_join_for_the_first_connection_and_one_leave_for_the_last() -> None:
    one, two = PresenceState('w1'), PresenceState('w2')
    first, diffs = one.track('lobby', 'ada', 'tab1', {'nick': 'ada'})
    assert [d.joins for d in diffs] == [{'ada': {'nick': 'ada'}}]
    assert [d.joins for d in replay(two, first)] == [{'ada': {'nick': 'ada'}}]
    # a second tab, on the other worker: nobody hears a join
    second, diffs = two.track('lobby', 'ada', 'tab2', {'nick': 'ada'})
    assert diffs == [] and replay(one, second) == []
    # the first tab closes: ada is still there
    closed, diffs = one.untrack('lobby', 'ada', 'tab1')
    assert diffs == [] and replay(two, closed) == []
    assert one.present('lobby') == two.present('lobby') == {'ada': {'nick': 'ada'}}
    # the last one closes: one leave, everywhere
    last, diffs = two.untrack('lobby', 'ada', 'tab2')
    assert [d.leaves for d in diffs] == [{'ada': {'nick': 'ada'}}]
    assert [d.leaves for d in replay(one, last)] == [{'ada': {'nick': 'ada'}}]
    assert one.present('lobby') == two.present('lobby') == {}


def test_topics_are_apart() -> None:
    state = PresenceState('w1')
    state.track('lobby', 'ada', 'c1', {})
    _, diffs = state.track('kitchen', 'ada', 'c2', {})
    assert [(d.topic, list(d.joins)) for d in diffs] == [('kitchen', ['ada'])]
    _, diffs = state.untrack('lobby', 'ada', 'c1')
    assert [(d.topic, list(d.leaves)) for d in diffs] == [('lobby', ['ada'])]
    assert state.present('kitchen') == {'ada': {}}


def test_the_latest_meta_wins_everywhere_without_clocks() -> None:
    one, two = PresenceState('w1'), PresenceState('w2')
    replay(two, one.track('lobby', 'ada', 'tab1', {'nick': 'ada'})[0])
    replay(one, two.track('lobby', 'ada', 'tab2', {'nick': 'ada'})[0])
    # both tabs rename at once, neither having heard of the other's rename
    a, _ = one.track('lobby', 'ada', 'tab1', {'nick': 'Ada L'})
    b, _ = two.track('lobby', 'ada', 'tab2', {'nick': 'Countess'})
    updates = replay(one, b) + replay(two, a)
    # whatever the order they arrived in, both show the same name
    assert one.meta_of('lobby', 'ada') == two.meta_of('lobby', 'ada')
    assert all(not d.joins and not d.leaves for d in updates)
    # a rename seen after that one wins again (the stamp moved on)
    c, diffs = one.track('lobby', 'ada', 'tab1', {'nick': 'Lovelace'})
    (diff,) = diffs
    assert diff.updates['ada'][1] == {'nick': 'Lovelace'}
    replay(two, c)
    assert two.meta_of('lobby', 'ada') == {'nick': 'Lovelace'}


def test_a_missed_delta_is_a_gap_and_the_state_mends_it() -> None:
    one, two = PresenceState('w1'), PresenceState('w2')
    replay(two, one.track('lobby', 'ada', 'c1', {})[0])
    one.track('lobby', 'bob', 'c2', {})  # lost on the way
    third, _ = one.untrack('lobby', 'ada', 'c1')
    assert two.apply_delta(third.replica, third.version, third.changes) is None
    assert two.apply_delta('w1', 1, []) == []  # an old one changes nothing
    diffs = two.apply_state('w1', one.version, one.snapshot())
    assert [(d.joins, d.leaves, d.catch_up) for d in diffs] == [
        ({'bob': {}}, {'ada': {}}, False)
    ]
    assert two.present('lobby') == one.present('lobby') == {'bob': {}}
    # an older state than what is known changes nothing
    assert two.apply_state('w1', 1, []) == []


def test_the_state_of_a_replica_heard_of_the_first_time_is_a_catch_up() -> None:
    old, new = PresenceState('w1'), PresenceState('w2')
    old.track('lobby', 'ada', 'c1', {'nick': 'ada'})
    (diff,) = new.apply_state('w1', old.version, old.snapshot())
    assert diff.catch_up and diff.joins == {'ada': {'nick': 'ada'}}


def test_forgetting_a_replica_makes_leave_only_those_absent_elsewhere() -> None:
    survivor = PresenceState('w2')
    dead = PresenceState('w1')
    for key in ('ada', 'bob'):
        replay(survivor, dead.track('lobby', key, f'{key}-tab', {})[0])
    # bob reconnected to the survivor before the dead worker was forgotten
    survivor.track('lobby', 'bob', 'bob-again', {})
    (diff,) = survivor.forget('w1')
    assert diff.leaves == {'ada': {}} and not diff.joins
    assert survivor.present('lobby') == {'bob': {}}
    assert survivor.forget('w1') == [] and survivor.forget('w2') == []


def test_a_replica_first_heard_by_its_first_delta_needs_no_state() -> None:
    one, two = PresenceState('w1'), PresenceState('w2')
    first, _ = one.track('lobby', 'ada', 'c1', {})
    assert not two.knows('w1')
    assert [d.joins for d in replay(two, first)] == [{'ada': {}}]
    assert two.version_of('w1') == 1 and two.replicas() == ['w1']
