"""Message schemas: what a dataclass lets through, and what it says about the rest."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import pytest

from aiotao.websocket.schema import Length, Range, Schema, SchemaError


@dataclass
class Point:
    x: Annotated[float, Range(0, 100)]
    y: Annotated[float, Range(0, 100)]


@dataclass
class Shot:
    weapon: Literal['laser', 'rocket']
    at: Point
    power: Annotated[int, Range(1, 3)] = 1
    tags: Annotated[list[Annotated[str, Length(1, 8)]], Length(max=3)] = field(
        default_factory=list
    )
    note: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def problems(hint: Any, value: Any) -> list[tuple[str, str]]:
    with pytest.raises(SchemaError) as raised:
        Schema(hint).load(value)
    return raised.value.errors


def test_a_valid_payload_becomes_the_dataclass_with_defaults() -> None:
    shot = Schema(Shot).load({'weapon': 'laser', 'at': {'x': 1, 'y': 2.5}})
    assert shot == Shot(weapon='laser', at=Point(1.0, 2.5))
    assert isinstance(shot.at.x, float)


def test_every_field_kind_is_checked_and_converted() -> None:
    shot = Schema(Shot).load(
        {
            'weapon': 'rocket',
            'at': {'x': 0, 'y': 100},
            'power': 3,
            'tags': ['a', 'bb'],
            'note': None,
            'extra': {'k': [1, {'z': None}]},
        }
    )
    assert shot.tags == ['a', 'bb'] and shot.power == 3 and shot.note is None
    assert shot.extra == {'k': [1, {'z': None}]}


@pytest.mark.parametrize(
    ('payload', 'expected'),
    [
        ({'at': {'x': 1, 'y': 1}}, [('weapon', 'is required')]),
        ({'weapon': 'sword', 'at': {'x': 1, 'y': 1}}, [('weapon', "expected one of 'laser', 'rocket'")]),
        ({'weapon': 'laser', 'at': {'x': 101, 'y': 1}}, [('at.x', 'must be at most 100')]),
        ({'weapon': 'laser', 'at': {'x': '1', 'y': 1}}, [('at.x', 'expected a number, got a string')]),
        ({'weapon': 'laser', 'at': [1, 2]}, [('at', 'expected an object, got an array')]),
        ({'weapon': 'laser', 'at': {'x': 1, 'y': 1}, 'power': True}, [('power', 'expected an integer, got a boolean')]),
        ({'weapon': 'laser', 'at': {'x': 1, 'y': 1}, 'power': 2.5}, [('power', 'expected an integer, got a number')]),
        ({'weapon': 'laser', 'at': {'x': 1, 'y': 1}, 'tags': ['ok', '']}, [('tags[1]', 'must be at least 1 long')]),
        ({'weapon': 'laser', 'at': {'x': 1, 'y': 1}, 'tags': ['a'] * 4}, [('tags', 'must be at most 3 long')]),
        ({'weapon': 'laser', 'at': {'x': 1, 'y': 1}, 'colour': 'red'}, [('colour', 'unexpected field (fields: weapon, at, power, tags, note, extra)')]),
        ({'weapon': 'laser', 'at': {'x': 1, 'y': 1, 'z': 0}}, [('at.z', 'unexpected field (fields: x, y)')]),
        ({'weapon': 'laser', 'at': {'x': 1, 'y': 1}, 'note': 5}, [('note', 'expected a string, got a number')]),
    ],
)  # fmt: skip
def test_a_bad_payload_names_the_field_and_the_problem(
    payload: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    assert problems(Shot, payload) == expected


def test_nan_and_infinity_are_not_numbers() -> None:
    assert problems(Point, {'x': float('nan'), 'y': 1}) == [
        ('x', 'expected a finite number')
    ]
    assert problems(float, float('inf')) == [('$', 'expected a finite number')]


def test_a_literal_does_not_confuse_true_with_1() -> None:
    assert Schema(Literal[1, 2]).load(1) == 1
    assert problems(Literal[1, 2], True) == [('$', 'expected one of 1, 2')]


def test_types_json_cannot_carry_are_refused_when_the_schema_is_made() -> None:
    with pytest.raises(TypeError, match='cannot be checked in a JSON schema'):
        Schema(set[int])
    with pytest.raises(TypeError, match='not a union of several types'):
        Schema(int | str)
    with pytest.raises(TypeError, match='dict\\[str, X\\]'):
        Schema(dict[int, str])
