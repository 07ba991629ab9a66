"""Views for the serving tests; each shows one thing a server must get right."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

from pyramid.response import FileResponse, Response
from pyramid.view import view_config

from aiotao.mappers import WebsocketMapper
from aiotao.websocket import WebsocketConnection

#: What /hang saw, read back through /events (one worker process).
EVENTS: list[str] = []


@view_config(route_name='hello', renderer='string')
async def hello(request: Any) -> str:
    return 'Hello, world!'


#: How many /sleep requests are being served right now.
SLEEPING = 0


@view_config(route_name='sleep', renderer='json')
async def sleep(request: Any) -> dict[str, Any]:
    global SLEEPING
    seconds = float(request.params.get('seconds', '0.5'))
    SLEEPING += 1
    try:
        await asyncio.sleep(seconds)
    finally:
        SLEEPING -= 1
    return {'slept': seconds}


@view_config(route_name='sleeping', renderer='json')
async def sleeping(request: Any) -> int:
    return SLEEPING


@view_config(route_name='sync_sleep', renderer='json')
def sync_sleep(request: Any) -> dict[str, Any]:
    """A legacy blocking view: aiotao runs it in the thread pool."""
    seconds = float(request.params.get('seconds', '0.5'))
    time.sleep(seconds)
    return {'thread': threading.current_thread().name}


@view_config(route_name='boom')
async def boom(request: Any) -> Any:
    await asyncio.sleep(0)
    raise RuntimeError('boom: an unhandled error in a view')


@view_config(route_name='hang', renderer='json')
async def hang(request: Any) -> dict[str, Any]:
    """Wait for a client that will disconnect; record what happens."""
    name = request.params['id']
    seconds = float(request.params.get('seconds', '30'))
    request.add_finished_callback(lambda request: EVENTS.append(f'finished {name}'))
    EVENTS.append(f'started {name}')
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        EVENTS.append(f'cancelled {name}')
        raise
    EVENTS.append(f'completed {name}')
    return {}


@view_config(route_name='events', renderer='json')
async def events(request: Any) -> list[str]:
    return EVENTS


@view_config(route_name='stream')
async def stream(request: Any) -> Response:
    """A body made while it is sent: chunk 2 only after ``pause`` seconds."""
    pause = float(request.params.get('pause', '0'))

    def chunks() -> Iterator[bytes]:
        yield b'first chunk\n'
        time.sleep(pause)  # blocks a pool thread, not the loop
        for n in range(2, 6):
            yield f'chunk {n}\n'.encode()

    return Response(app_iter=chunks(), content_type='text/plain')


@view_config(route_name='file')
async def file(request: Any) -> Response:
    return FileResponse(request.registry.settings['servingapp.file'], request=request)


@view_config(route_name='cookies')
async def cookies(request: Any) -> Response:
    response = Response('two cookies')
    response.set_cookie('first', '1')
    response.set_cookie('second', '2', httponly=True)
    return response


@view_config(route_name='environ', renderer='json')
@view_config(route_name='environ_path', renderer='json')
async def environ(request: Any) -> dict[str, Any]:
    keys = [
        'REMOTE_ADDR',
        'wsgi.url_scheme',
        'HTTP_HOST',
        'SCRIPT_NAME',
        'PATH_INFO',
        'QUERY_STRING',
        'RAW_URI',
        'HTTP_X_MULTI',
        'HTTP_COOKIE',
        'SERVER_NAME',
        'SERVER_PORT',
        'SERVER_PROTOCOL',
    ]
    seen = {key: request.environ.get(key) for key in keys}
    seen['path_info'] = request.path_info  # decoded by WebOb, as UTF-8
    seen['url'] = request.url
    seen['application_url'] = request.application_url
    seen['pid'] = os.getpid()
    return seen


@view_config(route_name='echo_body', renderer='json')
async def echo_body(request: Any) -> dict[str, Any]:
    body = request.body
    return {'length': len(body), 'sha256': hashlib.sha256(body).hexdigest()}


@view_config(route_name='echo', mapper=WebsocketMapper)
async def echo(ws: WebsocketConnection) -> None:
    async for message in ws:
        await ws.send(message)
