"""The demo's admin console: its answers, and where it refuses to listen."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import tracemalloc
from collections.abc import Iterator

import pytest
from aiotao_demo.console import answer, start_console
from pyramid.exceptions import ConfigurationError

from aiotao.sidecars import parse_section


def section(**values: str) -> object:
    return parse_section(
        'admin',
        {
            'kind': 'tcp',
            'port': '6545',
            'factory': 'aiotao_demo.console:start_console',
            **values,
        },
    )


async def test_answers() -> None:
    assert answer('help\n', 0.0) == ('commands: help, stats, memory, quit', False)
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


@pytest.fixture
def tracing_stopped() -> Iterator[None]:
    # ``memory`` starts tracemalloc: it must not slow the rest of the suite.
    # The collector waits, as a serving worker's mostly does, so that the
    # garbage made by the test is still there when ``memory`` looks.
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        tracemalloc.stop()


class Cyclic:
    """Garbage the way a library makes it: an object that refers to itself."""

    def __init__(self) -> None:
        self.me = self


class Kept:
    """What a leak keeps: objects still referred to."""


@pytest.mark.usefixtures('tracing_stopped')
async def test_memory_says_what_grew_and_what_was_garbage() -> None:
    first = json.loads(answer('memory', 0.0)[0])
    assert first['pid'] == os.getpid()
    assert first['tracing'] == 'started'
    assert first['rss_kib'] > 0

    kept = [Kept() for _ in range(3000)]
    kept_bytes = [bytes(256) for _ in range(3000)]  # allocated on this line
    for _ in range(500):
        Cyclic()
    reply, close = answer('memory', 0.0)
    grown = json.loads(reply)
    assert not close
    assert grown['tracing'] == 'since the last look'
    assert grown['collected'] >= 500
    assert [f'{__name__}.Cyclic', 500] in grown['collected_classes']
    assert [f'{__name__}.Kept', 3000, 3000] in grown['types']
    # the allocation sites point at the line that allocated, in this file
    sites = [' '.join(site[2:]) for site in grown['sites']]
    assert any('kept_bytes = [bytes(256)' in site for site in sites), sites
    assert grown['garbage'] == 0

    # what is gone is not reported as growing
    del kept, kept_bytes
    again = json.loads(answer('memory', 0.0)[0])
    assert f'{__name__}.Kept' not in [name for name, *_ in again['types']]
    assert again['collected'] < 500


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


async def test_stats_show_the_workers_loop_lag_and_refusals() -> None:
    from aiotao.serving.admission import (
        Admission,
        AdmissionSettings,
        set_worker_admission,
    )

    admission = Admission(AdmissionSettings(max_loop_lag=0.5), worker_connections=10)
    admission.refused_requests = 3
    set_worker_admission(admission)
    try:
        figures = json.loads(answer('stats', 0.0)[0])['admission']
    finally:
        set_worker_admission(None)
    assert figures['refused_requests'] == 3
    assert figures['max_loop_lag_ms'] == 500
    assert figures['loop_lag_ms'] == 0
    assert 'admission' not in json.loads(answer('stats', 0.0)[0])
