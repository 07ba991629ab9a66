"""Caching what a view returns when it is a response.

Pyramid hands a view's response on to response callbacks, tweens and the
server, which may change its headers (a session's cookie, caching headers)
or consume its body.  So ``@cache`` never shares a response object: it keeps
a :class:`FrozenResponse` (status, headers and the whole body) and gives each
caller a new :class:`~pyramid.response.Response` made from it.

``Set-Cookie`` headers are not kept: a cookie set for the visitor whose
request computed the page must not be handed to every other visitor.

>>> frozen = freeze(Response('hi', headers={'Set-Cookie': 'sid=1'}))
>>> response = thaw(frozen)
>>> response.text, 'Set-Cookie' in response.headers
('hi', False)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyramid.response import Response
from webob import Response as WebObResponse

_NOT_SHARED = frozenset({'set-cookie'})


@dataclass(frozen=True)
class FrozenResponse:
    status: str
    headerlist: tuple[tuple[str, str], ...]
    body: bytes


def freeze(value: Any) -> Any:
    """What to store for a view's result: responses become snapshots."""
    if isinstance(value, WebObResponse):
        return FrozenResponse(
            status=value.status,
            headerlist=tuple(
                (name, header)
                for name, header in value.headerlist
                if name.lower() not in _NOT_SHARED
            ),
            body=value.body,
        )
    return value


def thaw(value: Any) -> Any:
    """What a caller gets: a response of its own for a snapshot."""
    if isinstance(value, FrozenResponse):
        return Response(
            status=value.status, headerlist=list(value.headerlist), body=value.body
        )
    return value
