"""The demo's views, all ``async def``; routes and renderers are set in ``main``."""

from __future__ import annotations

import asyncio
import math
from typing import Any

from pyramid.httpexceptions import HTTPBadRequest

from aiotao.websocket import WebsocketConnection

#: Upper bound for ``/sleep``, so a typo cannot park a connection for hours.
MAX_SLEEP_SECONDS = 10.0


async def home(request: Any) -> dict[str, Any]:
    links = [
        ('hello', 'plain text'),
        ('json', 'a small JSON document'),
        ('sleep', 'an async view awaiting 0.1 s'),
        ('page', 'a Jinja2 page with a 20-item loop'),
        ('echo', 'a websocket echo (connect with a websocket client)'),
    ]
    return {'links': [(request.route_path(name), text) for name, text in links]}


async def hello(request: Any) -> str:
    return 'Hello, world!'


async def json(request: Any) -> dict[str, Any]:
    return {'message': 'Hello, world!', 'framework': 'pyramid', 'server': 'aiotao'}


async def sleep(request: Any) -> dict[str, float]:
    """Await ``?seconds=`` (default 0.1): holds no thread while it waits."""
    try:
        seconds = float(request.params.get('seconds', '0.1'))
    except ValueError:
        seconds = math.nan
    if not 0 <= seconds <= MAX_SLEEP_SECONDS:
        raise HTTPBadRequest(
            f'seconds must be a number from 0 to {MAX_SLEEP_SECONDS:g}'
        )
    await asyncio.sleep(seconds)
    return {'slept': seconds}


async def page(request: Any) -> dict[str, Any]:
    items = [{'id': n, 'name': f'item {n}', 'price': n * 1.25} for n in range(20)]
    return {'title': 'Twenty items', 'items': items}


async def echo(ws: WebsocketConnection) -> None:
    """Send every websocket message back as it came."""
    async for message in ws:
        await ws.send(message)
