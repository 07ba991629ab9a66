"""The application served beside the ini's servers: a page and a websocket echo."""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator

from aiotao.mappers import WebsocketMapper
from aiotao.websocket import WebsocketConnection


async def hello(request: Any) -> str:
    return 'Hello, world!'


async def echo(ws: WebsocketConnection) -> None:
    async for message in ws:
        await ws.send(message)


def main(global_config: dict[str, Any], **settings: Any) -> Any:
    config = Configurator(settings=settings)
    config.include('aiotao')
    config.include('aiotao.websocket')
    config.add_route('hello', '/hello')
    config.add_view(hello, route_name='hello', renderer='string')
    config.add_route('echo', '/echo')
    config.add_view(echo, route_name='echo', mapper=WebsocketMapper)
    return config.make_wsgi_app()
