"""The ASGI adapter's lifespan starts and stops the ini's servers too."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

from aiotao.serving.asgi import load_asgi_app
from tests.harness.gunicorn import free_port
from tests.sidecars.test_running import port_is_free, udp_ask
from tests.sidecars.test_worker import Console, write_ini


async def test_lifespan_runs_the_servers_of_the_ini(tmp_path: Path) -> None:
    udp, tcp = free_port(), free_port()
    app = load_asgi_app(str(write_ini(tmp_path, udp, tcp)))
    incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outgoing: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def send(message: dict[str, Any]) -> None:
        await outgoing.put(message)

    lifespan = asyncio.create_task(
        app({'type': 'lifespan'}, incoming.get, send)  # type: ignore[arg-type]
    )
    await incoming.put({'type': 'lifespan.startup'})
    async with asyncio.timeout(10):
        assert (await outgoing.get())['type'] == 'lifespan.startup.complete'
    assert json.loads(await udp_ask(udp, b'{"seq": 1}'))['state'] == {'seq': 1}
    console, greeting = await Console.open(tcp)
    assert greeting.startswith('aiotao admin console')
    await incoming.put({'type': 'lifespan.shutdown'})
    async with asyncio.timeout(10):
        assert (await outgoing.get())['type'] == 'lifespan.shutdown.complete'
        await lifespan
        assert await console.line() == ''  # closed by the shutdown
    console.close()
    assert port_is_free(tcp)
    assert port_is_free(udp, socket.SOCK_DGRAM)
