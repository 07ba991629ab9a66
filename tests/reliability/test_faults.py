"""Faults: a graceful stop with requests and websockets in flight at once.

Covered elsewhere, referenced rather than repeated:

* SIGTERM with 100 requests in flight, SIGINT/SIGQUIT, ``max_requests``:
  ``tests/serving/gunicorn/test_shutdown.py``; open websockets closed with 1001:
  ``tests/serving/gunicorn/test_websockets.py``;
* a killed worker replaced while chatting, no acknowledged message lost:
  ``tests/chat/test_workers.py`` and the page reconnecting in chromium,
  ``tests/demo/test_chat.py``;
* Redis or MongoDB going away under the broadcast backends (backoff,
  resubscription, delivery after recovery): ``tests/websocket/backends/``;
  MongoDB unreachable for ``request.db`` (503, recovery):
  ``tests/mongo/test_unavailable.py``; both under chat traffic on two
  workers: ``test_outages.py`` here.

New here: both shutdown duties in the same moment, at the issue's counts.
"""

from __future__ import annotations

import asyncio
import re
import signal
import time

import aiohttp
import pytest

from tests.reliability.conftest import ServeDemo

IN_FLIGHT = 100
WEBSOCKETS = 200
SLEEP = 2.0


@pytest.mark.timeout(60)
async def test_sigterm_finishes_requests_and_closes_websockets_at_once(
    serve_demo: ServeDemo,
) -> None:
    server = serve_demo('--graceful-timeout', '15')
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        sockets = [
            await session.ws_connect(server.url('/echo', 'ws'), autoping=True)
            for _ in range(WEBSOCKETS)
        ]
        for ws in sockets[:5]:  # open for real: they echo
            await ws.send_str('ping')
            assert (await ws.receive(timeout=5)).data == 'ping'

        async def sleeper() -> tuple[int, object]:
            url = server.url(f'/sleep?seconds={SLEEP}')
            async with session.get(url) as response:
                return response.status, await response.json()

        async def closed(ws: aiohttp.ClientWebSocketResponse) -> int | None:
            message = await ws.receive(timeout=SLEEP + 10)
            assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            await ws.close()
            return ws.close_code

        sleepers = [asyncio.ensure_future(sleeper()) for _ in range(IN_FLIGHT)]
        await asyncio.sleep(0.5)  # all sent; each view sleeps for SLEEP s
        signalled = time.monotonic()
        server.send_signal(signal.SIGTERM)
        codes = await asyncio.gather(*(closed(ws) for ws in sockets))
        results = await asyncio.gather(*sleepers)
        finished = time.monotonic() - signalled

    print(
        f'\nSIGTERM with {IN_FLIGHT} requests and {WEBSOCKETS} websockets: '
        f'requests {sorted(set(status for status, _ in results))}, close codes '
        f'{sorted(set(map(str, codes)))}, all done {finished:.1f} s after the signal'
    )
    assert results == [(200, {'slept': SLEEP})] * IN_FLIGHT
    assert codes == [1001] * WEBSOCKETS
    assert finished < SLEEP + 5
    assert server.wait(20) == 0
    waiting = re.search(r'for (\d+) requests in flight', server.log())
    assert waiting is not None and int(waiting.group(1)) == IN_FLIGHT, server.log()
