"""Validate decoded JSON against a dataclass: the schemas of websocket messages.

A message type's payload is declared as a dataclass; its field types say
what JSON may hold, and ``Annotated`` adds bounds:

>>> @dataclass
... class Move:
...     dx: Annotated[float, Range(-1, 1)]
...     dy: Annotated[float, Range(-1, 1)]
...     label: Annotated[str, Length(max=20)] = ''
>>> Schema(Move).load({'dx': 0.5, 'dy': -1})
Move(dx=0.5, dy=-1.0, label='')
>>> Schema(Move).load({'dx': 3, 'dy': 0})
Traceback (most recent call last):
...
aiotao.websocket.schema.SchemaError: dx: must be at most 1

What a field may be: ``str``, ``int`` (not ``bool``), ``float`` (an ``int``
is taken; NaN and infinities are not), ``bool``, ``Any``, ``X | None``,
``Literal[...]``, ``list[X]``, ``dict[str, X]`` and another dataclass.
Fields not declared are refused (a client misspelling a field learns it at
once); fields with a default may be left out.

This is deliberately small: the checks run in the event loop for every
message of every client, so they are compiled once per dataclass into
plain functions, and no dependency is pulled in for them.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Literal, TypeVar, Union

__all__ = ['Length', 'Range', 'Schema', 'SchemaError']

T = TypeVar('T')

#: Checks a decoded JSON value at a path; returns the value to keep.
Check = Callable[[Any, str], Any]


class SchemaError(ValueError):
    """A payload does not match its schema; ``errors`` lists ``(path, problem)``.

    >>> str(SchemaError([('text', 'is required')]))
    'text: is required'
    """

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__('; '.join(f'{path}: {problem}' for path, problem in errors))


class _Invalid(Exception):
    """One problem found while checking; becomes a :class:`SchemaError`."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Length:
    """Bounds on the length of a ``str`` or a ``list`` (inclusive).

    >>> Schema(Annotated[str, Length(1, 3)]).load('abcd')
    Traceback (most recent call last):
    ...
    aiotao.websocket.schema.SchemaError: $: must be at most 3 long
    """

    min: int = 0
    max: int | None = None


@dataclass(frozen=True, slots=True)
class Range:
    """Bounds on a number (inclusive).

    >>> Schema(Annotated[int, Range(0, 10)]).load(-1)
    Traceback (most recent call last):
    ...
    aiotao.websocket.schema.SchemaError: $: must be at least 0
    """

    min: float | None = None
    max: float | None = None


def _json_type(value: Any) -> str:
    """What a decoded JSON value is, in JSON's words (for error messages)."""
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'a boolean'
    if isinstance(value, (int, float)):
        return 'a number'
    if isinstance(value, str):
        return 'a string'
    if isinstance(value, list):
        return 'an array'
    if isinstance(value, dict):
        return 'an object'
    return type(value).__name__


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f'{path}[{key}]'
    return key if path == '$' else f'{path}.{key}'


def _bounded(check: Check, bounds: list[Any]) -> Check:
    lengths = [b for b in bounds if isinstance(b, Length)]
    ranges = [b for b in bounds if isinstance(b, Range)]

    def bounded(value: Any, path: str) -> Any:
        value = check(value, path)
        for length in lengths:
            if len(value) < length.min:
                raise _Invalid(path, f'must be at least {length.min} long')
            if length.max is not None and len(value) > length.max:
                raise _Invalid(path, f'must be at most {length.max} long')
        for bound in ranges:
            if bound.min is not None and value < bound.min:
                raise _Invalid(path, f'must be at least {bound.min:g}')
            if bound.max is not None and value > bound.max:
                raise _Invalid(path, f'must be at most {bound.max:g}')
        return value

    return bounded


def _scalar(expected: type, name: str) -> Check:
    def scalar(value: Any, path: str) -> Any:
        # bool is an int in Python, not in JSON
        if type(value) is not expected:
            raise _Invalid(path, f'expected {name}, got {_json_type(value)}')
        return value

    return scalar


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Invalid(path, f'expected a number, got {_json_type(value)}')
    number = float(value)
    if not math.isfinite(number):
        raise _Invalid(path, 'expected a finite number')
    return number


def _anything(value: Any, path: str) -> Any:
    return value


def _literal(choices: tuple[Any, ...]) -> Check:
    shown = ', '.join(repr(choice) for choice in choices)

    def literal(value: Any, path: str) -> Any:
        for choice in choices:
            if type(value) is type(choice) and value == choice:
                return value
        raise _Invalid(path, f'expected one of {shown}')

    return literal


def _optional(check: Check) -> Check:
    def optional(value: Any, path: str) -> Any:
        return None if value is None else check(value, path)

    return optional


def _list(item: Check) -> Check:
    def checked_list(value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise _Invalid(path, f'expected an array, got {_json_type(value)}')
        return [item(element, _join(path, i)) for i, element in enumerate(value)]

    return checked_list


def _dict(item: Check) -> Check:
    def checked_dict(value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _Invalid(path, f'expected an object, got {_json_type(value)}')
        return {key: item(element, _join(path, key)) for key, element in value.items()}

    return checked_dict


def _dataclass(cls: type) -> Check:
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = [field for field in dataclasses.fields(cls) if field.init]
    checks = {field.name: _compile(hints[field.name]) for field in fields}
    required = {
        field.name
        for field in fields
        if field.default is dataclasses.MISSING
        and field.default_factory is dataclasses.MISSING
    }
    known = ', '.join(checks) or 'none'

    def checked_dataclass(value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            raise _Invalid(path, f'expected an object, got {_json_type(value)}')
        for key in value:
            if key not in checks:
                raise _Invalid(
                    _join(path, str(key)), f'unexpected field (fields: {known})'
                )
        for name in required:
            if name not in value:
                raise _Invalid(_join(path, name), 'is required')
        return cls(
            **{key: checks[key](item, _join(path, key)) for key, item in value.items()}
        )

    return checked_dataclass


def _compile(hint: Any) -> Check:
    """A function checking values of the type ``hint``."""
    origin = typing.get_origin(hint)
    if origin is Annotated:
        inner, *bounds = typing.get_args(hint)
        return _bounded(_compile(inner), bounds)
    if hint is Any:
        return _anything
    if hint is str:
        return _scalar(str, 'a string')
    if hint is bool:
        return _scalar(bool, 'a boolean')
    if hint is int:
        return _scalar(int, 'an integer')
    if hint is float:
        return _number
    if hint is None or hint is type(None):
        return _scalar(type(None), 'null')
    if origin is Literal:
        return _literal(typing.get_args(hint))
    if origin in (Union, types.UnionType):
        args = typing.get_args(hint)
        others = [arg for arg in args if arg is not type(None)]
        if len(others) == 1 and len(args) == 2:
            return _optional(_compile(others[0]))
        raise TypeError(
            f'{hint}: a schema field may be X | None, not a union of '
            f'several types (use Any and check it in the handler)'
        )
    if origin is list:
        (item,) = typing.get_args(hint) or (Any,)
        return _list(_compile(item))
    if origin is dict:
        key, item = typing.get_args(hint) or (str, Any)
        if key is not str:
            raise TypeError(f'{hint}: JSON object keys are strings: use dict[str, X]')
        return _dict(_compile(item))
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _dataclass(hint)
    raise TypeError(
        f'{hint!r} cannot be checked in a JSON schema: use str, int, float, bool, '
        f'Any, X | None, Literal[...], list[X], dict[str, X] or a dataclass'
    )


class Schema(Generic[T]):
    """Checks decoded JSON against a type (a dataclass for a message payload).

    Compiled once; :meth:`load` checks a value and returns it converted
    (a dataclass instance for a dataclass), or raises :exc:`SchemaError`.
    An unsupported type raises ``TypeError`` at once, naming it.
    """

    def __init__(self, hint: Any) -> None:
        self.hint = hint
        self._check = _compile(hint)

    def __repr__(self) -> str:
        return f'Schema({getattr(self.hint, "__name__", self.hint)!s})'

    def load(self, value: Any) -> T:
        try:
            return self._check(value, '$')  # type: ignore[no-any-return]
        except _Invalid as invalid:
            raise SchemaError([(invalid.path, invalid.problem)]) from None
