"""The JSON Schema of a message schema: what :mod:`aiotao.websocket.schema` checks, described.

:func:`json_schema` turns the type a :class:`~aiotao.websocket.schema.Schema`
checks (a dataclass, with ``Annotated`` bounds) into JSON Schema draft 7,
the dialect AsyncAPI 3.0 payloads use (:mod:`aiotao.websocket.asyncapi`).
The two read the same type hints, so the description cannot drift from
the checks:

>>> from dataclasses import dataclass
>>> from typing import Annotated
>>> from aiotao.websocket.schema import Length
>>> @dataclass
... class Say:
...     text: Annotated[str, Length(1, 500)]
...     to: str | None = None
>>> json_schema(Say)['properties']['text']
{'type': 'string', 'minLength': 1, 'maxLength': 500}
>>> json_schema(Say)['required']
['text']
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Annotated, Any, Literal, Union

from aiotao.websocket.schema import Length, Range

__all__ = ['json_schema']


def _bounds(schema: dict[str, Any], bounds: list[Any]) -> dict[str, Any]:
    schema = dict(schema)
    kind = schema.get('type')
    for bound in bounds:
        if isinstance(bound, Length):
            low, high = (
                ('minItems', 'maxItems')
                if kind == 'array'
                else ('minLength', 'maxLength')
            )
            if bound.min:
                schema[low] = bound.min
            if bound.max is not None:
                schema[high] = bound.max
        elif isinstance(bound, Range):
            if bound.min is not None and math.isfinite(bound.min):
                schema['minimum'] = bound.min
            if bound.max is not None and math.isfinite(bound.max):
                schema['maximum'] = bound.max
    return schema


def _dataclass(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = [field for field in dataclasses.fields(cls) if field.init]
    schema: dict[str, Any] = {
        'type': 'object',
        'properties': {field.name: json_schema(hints[field.name]) for field in fields},
        'additionalProperties': False,
    }
    required = [
        field.name
        for field in fields
        if field.default is dataclasses.MISSING
        and field.default_factory is dataclasses.MISSING
    ]
    if required:
        schema['required'] = required
    doc = cls.__doc__
    if doc and not doc.startswith(f'{cls.__name__}('):  # not the dataclass's own
        schema['description'] = doc.strip().split('\n\n')[0]
    return schema


def json_schema(hint: Any) -> dict[str, Any]:
    """The JSON Schema (draft 7) of the values :class:`~aiotao.websocket.schema.Schema` accepts."""
    origin = typing.get_origin(hint)
    if origin is Annotated:
        inner, *bounds = typing.get_args(hint)
        return _bounds(json_schema(inner), bounds)
    if hint is Any:
        return {}
    if hint is str:
        return {'type': 'string'}
    if hint is bool:
        return {'type': 'boolean'}
    if hint is int:
        return {'type': 'integer'}
    if hint is float:
        return {'type': 'number'}
    if hint is None or hint is type(None):
        return {'type': 'null'}
    if origin is Literal:
        return {'enum': list(typing.get_args(hint))}
    if origin in (Union, types.UnionType):
        return {'anyOf': [json_schema(arg) for arg in typing.get_args(hint)]}
    if origin is list:
        (item,) = typing.get_args(hint) or (Any,)
        return {'type': 'array', 'items': json_schema(item)}
    if origin is dict:
        _, item = typing.get_args(hint) or (str, Any)
        return {'type': 'object', 'additionalProperties': json_schema(item)}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _dataclass(hint)
    raise TypeError(f'{hint!r} has no JSON schema (see aiotao.websocket.schema)')
