"""Websocket views for Pyramid, served by aiotao's worker or any ASGI server.

::

    from aiotao.mappers import WebsocketMapper

    @view_config(route_name='echo', mapper=WebsocketMapper)
    async def echo(ws):
        async for message in ws:
            await ws.send(message)

The modules, by concern:

* :mod:`~aiotao.websocket.connection`: the connection a view gets (``ws``);
* :mod:`~aiotao.websocket.groups`: groups and broadcast;
* :mod:`~aiotao.websocket.messages`: JSON messages dispatched by type to
  handlers, with schemas (:mod:`~aiotao.websocket.schema`), replies and
  rate limits (:mod:`~aiotao.websocket.ratelimit`);
* :mod:`~aiotao.websocket.handshake`: upgrade detection, origin check;
* :mod:`~aiotao.websocket.limits`: message size, pings, slow clients;
* :mod:`~aiotao.websocket.exceptions`: what can go wrong;
* :mod:`~aiotao.websocket.shutdown`: every open connection, closed on
  shutdown;
* :mod:`~aiotao.websocket.transport`: the contract with servers (each way
  of serving in :mod:`aiotao.serving` implements it);
* :mod:`~aiotao.websocket.config`: the settings, and
  ``config.include('aiotao.websocket')``.

The view mapper is :class:`aiotao.mappers.WebsocketMapper`.
"""

from aiotao.websocket.config import includeme
from aiotao.websocket.connection import State, WebsocketConnection
from aiotao.websocket.exceptions import (
    ConcurrencyError,
    ConnectionClosed,
    InvalidJSON,
    InvalidState,
    WebsocketError,
)
from aiotao.websocket.groups import broadcast, get_groups
from aiotao.websocket.messages import (
    MessageError,
    MessageHandlers,
    MessageRouter,
    requires,
)
from aiotao.websocket.ratelimit import RateLimit
from aiotao.websocket.schema import Length, Range, Schema, SchemaError
from aiotao.websocket.transport import TRANSPORT_ENVIRON_KEY

__all__ = [
    'TRANSPORT_ENVIRON_KEY',
    'ConcurrencyError',
    'ConnectionClosed',
    'InvalidJSON',
    'InvalidState',
    'Length',
    'MessageError',
    'MessageHandlers',
    'MessageRouter',
    'Range',
    'RateLimit',
    'Schema',
    'SchemaError',
    'State',
    'WebsocketConnection',
    'WebsocketError',
    'broadcast',
    'get_groups',
    'includeme',
    'requires',
]
