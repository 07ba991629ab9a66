"""The fan-out room of ``tests.pkgs.broadcastapp`` on raw aiohttp.web: the peer of ``bench/fanout.py``.

Served by ``bench/fanout.py --only raw`` as
``gunicorn fanout_aiohttp:app --worker-class aiohttp.GunicornWebWorker``
(one worker, one process: no Pyramid, no aiotao, no broker).  The same
protocol as the aiotao app, so the same clients measure both:

* ``/room/{name}`` (websocket): joins the room, says ``joined <pid>``, then
  sends every message it receives to every socket of the room (the
  sender too);
* ``/pid``: the pid of the worker.

The fan-out is what an aiohttp user writes: a set of sockets and
``await ws.send_str()`` for each.  ``send_str`` only waits when the
socket's buffer is over its high-water mark, which an idle client's is
not; a closed socket is skipped.
"""

from __future__ import annotations

import os

from aiohttp import WSMsgType, web

ROOMS = web.AppKey('rooms', dict[str, set[web.WebSocketResponse]])


async def pid(request: web.Request) -> web.Response:
    return web.Response(text=str(os.getpid()))


async def room(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    members = request.app[ROOMS].setdefault(request.match_info['name'], set())
    members.add(ws)
    try:
        await ws.send_str(f'joined {os.getpid()}')
        async for message in ws:
            kind, data = message.type, message.data
            if kind is not WSMsgType.TEXT and kind is not WSMsgType.BINARY:
                continue
            for member in tuple(members):  # a member may leave meanwhile
                if member.closed:
                    continue
                try:
                    if kind is WSMsgType.TEXT:
                        await member.send_str(data)
                    else:
                        await member.send_bytes(data)
                except ConnectionError:  # gone since: its handler removes it
                    pass
    finally:
        members.discard(ws)
    return ws


app = web.Application()
app[ROOMS] = {}
app.add_routes([web.get('/pid', pid), web.get('/room/{name}', room)])
