"""The demo's views, all ``async def``; routes and renderers are set in ``main``."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime
from typing import Any

from pyramid.csrf import check_csrf_token
from pyramid.httpexceptions import HTTPBadRequest, HTTPSeeOther

from aiotao.websocket import WebsocketConnection

MAX_ITEM_LENGTH = 200

#: Upper bound for ``/sleep``, so a typo cannot park a connection for hours.
MAX_SLEEP_SECONDS = 10.0


async def home(request: Any) -> dict[str, Any]:
    links = [
        ('hello', 'plain text'),
        ('json', 'a small JSON document'),
        ('sleep', 'an async view awaiting 0.1 s'),
        ('page', 'a Jinja2 page with a 20-item loop'),
        ('echo_test', 'the websocket echo test page (CONNECTED, SENT, RESPONSE)'),
        ('echo', 'a websocket echo (connect with a websocket client)'),
        ('items', 'a page reading and writing MongoDB through request.db'),
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


async def echo_test(request: Any) -> dict[str, Any]:
    return {}


async def list_items(request: Any) -> dict[str, Any]:
    cursor = request.db.items.find({}, {'_id': 0}).sort('created', -1).limit(50)
    return {'items': await cursor.to_list(length=50)}


async def add_item(request: Any) -> HTTPSeeOther:
    # checked here rather than app-wide: the demo's other POST endpoints
    # (examples with clients of their own) are not forms of this app
    check_csrf_token(request)  # a missing or wrong token is a 400
    text = request.POST.get('text', '').strip()
    if not 0 < len(text) <= MAX_ITEM_LENGTH:
        raise HTTPBadRequest(f'an item is 1 to {MAX_ITEM_LENGTH} characters long')
    await request.db.items.insert_one({'text': text, 'created': datetime.now(UTC)})
    return HTTPSeeOther(request.route_url('items'))


async def echo(ws: WebsocketConnection) -> None:
    """Send every websocket message back as it came."""
    async for message in ws:
        await ws.send(message)
