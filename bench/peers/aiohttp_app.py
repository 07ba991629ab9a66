"""The demo's endpoints on raw aiohttp.web, for ``aiohttp.GunicornWebWorker``.

Served by ``bench/servers.py`` as
``gunicorn aiohttp_app:app --worker-class aiohttp.GunicornWebWorker``.
"""

from __future__ import annotations

import asyncio

from aiohttp import WSMsgType, web
from demo_templates import render_page

MAX_SLEEP_SECONDS = 10.0


async def hello(request: web.Request) -> web.Response:
    return web.Response(text='Hello, world!')


async def json(request: web.Request) -> web.Response:
    return web.json_response(
        {'message': 'Hello, world!', 'framework': 'aiohttp', 'server': 'aiohttp'}
    )


async def sleep(request: web.Request) -> web.Response:
    try:
        seconds = float(request.query.get('seconds', '0.1'))
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= MAX_SLEEP_SECONDS:
        raise web.HTTPBadRequest(text='seconds must be a number from 0 to 10')
    await asyncio.sleep(seconds)
    return web.json_response({'slept': seconds})


async def page(request: web.Request) -> web.Response:
    return web.Response(text=render_page(), content_type='text/html')


async def echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for message in ws:
        if message.type == WSMsgType.TEXT:
            await ws.send_str(message.data)
        elif message.type == WSMsgType.BINARY:
            await ws.send_bytes(message.data)
    return ws


app = web.Application()
app.add_routes(
    [
        web.get('/hello', hello),
        web.get('/json', json),
        web.get('/sleep', sleep),
        web.get('/page', page),
        web.get('/echo', echo),
    ]
)
