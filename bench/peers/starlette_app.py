"""The demo's endpoints on Starlette, for uvicorn.

Served by ``bench/servers.py`` as ``uvicorn starlette_app:app``; the page is
rendered with Jinja2 directly (``demo_templates``).
"""

from __future__ import annotations

import asyncio

from demo_templates import render_page
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

MAX_SLEEP_SECONDS = 10.0


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse('Hello, world!')


async def json(request: Request) -> JSONResponse:
    return JSONResponse(
        {'message': 'Hello, world!', 'framework': 'starlette', 'server': 'uvicorn'}
    )


async def sleep(request: Request) -> Response:
    try:
        seconds = float(request.query_params.get('seconds', '0.1'))
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= MAX_SLEEP_SECONDS:
        return PlainTextResponse('seconds must be a number from 0 to 10', 400)
    await asyncio.sleep(seconds)
    return JSONResponse({'slept': seconds})


async def page(request: Request) -> HTMLResponse:
    return HTMLResponse(render_page())


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            message = await websocket.receive()
            if message['type'] == 'websocket.disconnect':
                return
            if message.get('text') is not None:
                await websocket.send_text(message['text'])
            elif message.get('bytes') is not None:
                await websocket.send_bytes(message['bytes'])
    except WebSocketDisconnect:
        return


app = Starlette(
    routes=[
        Route('/hello', hello),
        Route('/json', json),
        Route('/sleep', sleep),
        Route('/page', page),
        WebSocketRoute('/echo', echo),
    ]
)
