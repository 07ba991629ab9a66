"""The views of the broadcast test application."""

from __future__ import annotations

import os

from pyramid.request import Request
from pyramid.view import view_config

from aiotao.mappers import WebsocketMapper
from aiotao.websocket.connection import WebsocketConnection


@view_config(route_name='pid', renderer='string')
async def pid(request: Request) -> str:
    return str(os.getpid())


@view_config(route_name='room', mapper=WebsocketMapper)
async def room(ws: WebsocketConnection) -> None:
    name = ws.request.matchdict['name']
    await ws.join(name)
    # sent once the group is subscribed: from now on this client gets
    # what any worker broadcasts to the room
    await ws.send(f'joined {os.getpid()}')
    async for message in ws:
        await ws.broadcast(name, message)
