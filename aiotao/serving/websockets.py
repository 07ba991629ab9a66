"""Websocket upgrades, as far as servers are concerned.

The websocket views and their transports live in :mod:`aiotao.websocket`;
a server only needs to tell an upgrade request from others, find the
transport for its kind of connection, and close every websocket when it
shuts down.  Each server's transport is looked up by name, so a server
without one (or a build of aiotao without websockets) serves upgrade
requests as plain HTTP instead of failing to start.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

#: Close code for "the server is going away" (RFC 6455 section 7.4.1).
GOING_AWAY = 1001


def is_websocket_upgrade(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether raw request headers ask for a websocket (``Upgrade: websocket``).

    >>> is_websocket_upgrade([(b'Connection', b'Upgrade'), (b'Upgrade', b'websocket')])
    True

    ``Connection: Upgrade`` is not required here: a request without it is a
    malformed handshake, which the websocket view refuses with a message
    (:func:`aiotao.websocket.handshake.handshake_problem`) rather than a
    plain HTTP request.
    """
    for name, value in headers:
        if name.lower() == b'upgrade':
            tokens = (token.strip().lower() for token in value.split(b','))
            if b'websocket' in tokens:
                return True
    return False


def optional_module(name: str) -> Any:
    """Import ``name``, or ``None`` if that module does not exist.

    A module that exists but fails to import still raises: that is a bug to
    see, not a feature to switch off.
    """
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and name.startswith(exc.name):
            return None
        raise


def transport_class(module: str, name: str) -> Any:
    """A websocket transport class, or ``None`` if its module is absent."""
    found = optional_module(module)
    return None if found is None else getattr(found, name)


async def close_all_websockets(reason: str = 'server shutting down') -> None:
    """Close every open websocket of this process with 1001 (going away)."""
    connections = optional_module('aiotao.websocket.connections')
    if connections is not None:
        await connections.close_all(GOING_AWAY, reason)
