"""Cache keys: the name, the arguments and, for views, the request.

A key has three parts so that invalidation can be as broad or as narrow as
the caller needs:

* ``name``, given to :func:`~aiotao.cache.cache`;
* ``args``: the call's arguments as canonical JSON; for a view, its
  matchdict as keyword arguments, so ``cache.invalidate('article', id='3')``
  drops the article's page whatever its query string;
* ``variant``: for a view, the route, the query string (sorted, so the order
  of parameters does not matter) and, without a route (traversal), the path.

Arguments must be JSON values (strings, numbers, booleans, ``None``, lists
and dicts of them): they then mean the same in every worker process, which
is what a shared backend needs.  ``(1, 2)`` and ``[1, 2]`` are the same key.

>>> CacheKey.for_call('price', ('EUR',), {}).id
'price|[["EUR"],{}]|'
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CacheKey:
    name: str
    args: str
    variant: str = ''

    @property
    def id(self) -> str:
        """The key as one string (the document ``_id`` in MongoDB)."""
        return f'{self.name}|{self.args}|{self.variant}'

    @classmethod
    def for_call(
        cls, name: str, args: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> CacheKey:
        return cls(name, encode_arguments(name, args, kwargs))

    @classmethod
    def for_request(cls, name: str, request: Any) -> CacheKey:
        matchdict = getattr(request, 'matchdict', None)
        route = getattr(getattr(request, 'matched_route', None), 'name', None)
        query = sorted(request.GET.items())
        path = None if matchdict is not None else request.path_info
        variant = _canonical([route, path, query])
        return cls(name, encode_arguments(name, (), matchdict or {}), variant)


def encode_arguments(name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
    try:
        return _canonical([list(args), dict(kwargs)])
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f'@cache({name!r}): the arguments must be JSON values (str, int, '
            f'float, bool, None, lists and dicts of them) to make a key: {exc}'
        ) from None


def _canonical(value: Any) -> str:
    return json.dumps(
        value,
        sort_keys=True,
        separators=(',', ':'),
        ensure_ascii=False,
        allow_nan=False,
    )


def find_request(args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
    """The request if this is how Pyramid calls a view, else ``None``.

    Views are called as ``(request)``, ``(context, request)``, or, for a
    method of a class view, ``(self)`` with ``self.request``.
    """
    if kwargs or not 1 <= len(args) <= 2:
        return None
    if _is_request(args[-1]):
        return args[-1]
    if len(args) == 1 and _is_request(getattr(args[0], 'request', None)):
        return args[0].request
    return None


def _is_request(obj: Any) -> bool:
    # Duck-typed so that pyramid.testing.DummyRequest counts as well.
    return all(
        hasattr(obj, attr) for attr in ('registry', 'GET', 'path_info', 'matchdict')
    )
