"""The demo's admin console: its answers, and where it refuses to listen."""

from __future__ import annotations

import asyncio
import json
import os

import pytest
from pyramid.exceptions import ConfigurationError

from aiotao.demo.console import answer, start_console
from aiotao.servers import parse_section


def section(**values: str) -> object:
    return parse_section(
        'admin',
        {
            'kind': 'tcp',
            'port': '6545',
            'factory': 'aiotao.demo.console:start_console',
            **values,
        },
    )


async def test_answers() -> None:
    assert answer('help\n', 0.0) == ('commands: help, stats, quit', False)
    assert answer('quit', 0.0) == ('bye', True)
    reply, close = answer('  stats  ', 0.0)
    stats = json.loads(reply)
    assert not close
    assert stats['pid'] == os.getpid()
    assert stats['websockets'] == 0
    assert stats['uptime'] > 0
    assert answer('rm -rf /', 0.0)[0].startswith("error: unknown command 'rm -rf /'")


async def test_stats_counts_the_tasks_on_the_loop() -> None:
    def tasks() -> int:
        return int(json.loads(answer('stats', 0.0)[0])['tasks'])

    before = tasks()
    sleepers = [asyncio.create_task(asyncio.sleep(60)) for _ in range(5)]
    assert tasks() == before + 5
    for sleeper in sleepers:
        sleeper.cancel()
    await asyncio.gather(*sleepers, return_exceptions=True)
    # finished tasks are not counted: the figure returns to where it was
    assert tasks() == before


@pytest.mark.parametrize('host', ['0.0.0.0', '192.0.2.1', '::', 'example.com'])
async def test_refuses_to_listen_beyond_loopback(host: str) -> None:
    with pytest.raises(ConfigurationError) as error:
        await start_console(None, section(host=host))  # type: ignore[arg-type]
    assert f'host = {host}: the admin console has no password' in str(error.value)


@pytest.mark.parametrize('value', ['many', '8'])
async def test_bad_max_line_names_the_option(value: str) -> None:
    with pytest.raises(ConfigurationError) as error:
        await start_console(None, section(**{'option.max_line': value}))  # type: ignore[arg-type]
    assert f'[aiotao.server:admin] option.max_line = {value!r}' in str(error.value)
