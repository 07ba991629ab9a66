"""Merge patches: the 'only what changed' of snapshots."""

from __future__ import annotations

import random

from aiotao.game.patch import merge_apply, merge_diff


def test_nested_changes_additions_and_removals() -> None:
    before = {'players': {'p1': {'x': 1, 'hp': 3}, 'p2': {'x': 2}}, 'tick': 1}
    after = {'players': {'p1': {'x': 1, 'hp': 2}, 'p3': {'x': 0}}, 'tick': 2}
    patch = merge_diff(before, after)
    assert patch == {
        'players': {'p1': {'hp': 2}, 'p2': None, 'p3': {'x': 0}},
        'tick': 2,
    }
    assert merge_apply(before, patch) == after


def test_lists_and_type_changes_are_replaced_whole() -> None:
    before = {'a': [1, 2], 'b': {'c': 1}}
    after = {'a': [1, 3], 'b': 5}
    assert merge_diff(before, after) == {'a': [1, 3], 'b': 5}
    assert merge_apply(before, merge_diff(before, after)) == after


def test_applying_the_diff_always_gives_the_new_state() -> None:
    rng = random.Random(5)

    def state() -> dict[str, object]:
        return {
            f'k{n}': rng.choice(
                [1, 2, 'x', {'a': rng.randint(0, 2)}, [rng.randint(0, 1)]]
            )
            for n in range(rng.randint(0, 6))
        }

    for _ in range(500):
        before, after = state(), state()
        assert merge_apply(before, merge_diff(before, after)) == after
