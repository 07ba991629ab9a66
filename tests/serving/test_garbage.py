"""The collector tuned for serving: in a fresh process, and in the worker."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from aiotao.serving.garbage import SERVING_THRESHOLD
from tests.harness.gunicorn import (  # noqa: F401  (fixture)
    ServerFactory,
    gunicorn,
)

WORKER = 'aiotao.serving.gunicorn.Worker'


def run_python(code: str) -> list[object]:
    """Run ``code`` in a fresh interpreter (gc settings are per process)."""
    done = subprocess.run(
        [sys.executable, '-c', code],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    result: list[object] = json.loads(done.stdout)
    return result


def test_python_defaults_are_raised_and_the_loaded_objects_frozen() -> None:
    changed, threshold, frozen = run_python(
        'import gc, json; from aiotao.serving.garbage import tune_for_serving; '
        'changed = tune_for_serving(); '
        'print(json.dumps([changed, gc.get_threshold(), gc.get_freeze_count()]))'
    )
    assert changed is True
    assert threshold == [SERVING_THRESHOLD, 10, 10]
    assert isinstance(frozen, int) and frozen > 1000  # aiotao and what it imported


def test_thresholds_an_application_set_are_kept() -> None:
    changed, threshold, frozen = run_python(
        'import gc, json; from aiotao.serving.garbage import tune_for_serving; '
        'gc.set_threshold(1234, 5, 6); changed = tune_for_serving(); '
        'print(json.dumps([changed, gc.get_threshold(), gc.get_freeze_count()]))'
    )
    assert changed is False
    assert threshold == [1234, 5, 6]
    assert isinstance(frozen, int) and frozen > 0


#: In a fresh process serving on an event loop: cycles that each hold a
#: large buffer (as a closed websocket's request and deflate state do) and
#: are too few objects for the raised threshold; how many are still alive
#: after a few of the clock's intervals, and the RSS they would pin.
CYCLES_ON_A_LOOP = """
import asyncio, gc, json, weakref
from aiotao.serving.garbage import tune_for_serving

class Session:
    def __init__(self):
        self.me = self                   # a cycle: freed by the collector only
        self.buffer = bytearray(256 * 1024)

async def main():
    tune_for_serving(interval=0.1)
    alive = []
    for wave in range(5):
        for _ in range(40):
            session = Session()
            weakref.finalize(session, alive.append, -1)
            alive.append(1)
            del session
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    print(json.dumps([sum(alive), gc.get_count()[0] < 50_000]))

asyncio.run(main())
"""


def test_cycles_are_collected_on_the_clock_not_only_by_count() -> None:
    left, below_threshold = run_python(CYCLES_ON_A_LOOP)
    # 200 cycles of 256 KiB: 50 MiB the count alone would leave waiting
    assert below_threshold is True  # the count would not have collected them
    assert left == 0


def get_json(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=10) as response:
        result: dict[str, object] = json.load(response)
    return result


def start_worker(gunicorn: ServerFactory, tmp_path: Path, **settings: str) -> str:  # noqa: F811
    ini = tmp_path / 'gc.ini'
    lines = ['[app:main]', 'use = call:tests.pkgs.gcapp:main']
    lines += [f'{key} = {value}' for key, value in settings.items()]
    ini.write_text('\n'.join(lines) + '\n')
    server = gunicorn(
        ['--paste', str(ini), '--worker-class', WORKER, '--workers', '1'],
        ready_path='/gc',
    )
    return server.url('/gc')


@pytest.mark.timeout(60)
def test_the_worker_serves_with_the_tuned_collector(
    gunicorn: ServerFactory,  # noqa: F811
    tmp_path: Path,
) -> None:
    url = start_worker(gunicorn, tmp_path, **{'aiotao.gc_interval': '1'})
    seen = get_json(url)
    assert seen['threshold'] == [SERVING_THRESHOLD, 10, 10]
    assert isinstance(seen['frozen'], int) and seen['frozen'] > 1000
    # idle, so nothing reaches the threshold: the clock collects anyway
    time.sleep(2)
    later = get_json(url)
    assert isinstance(later['full_collections'], int)
    assert isinstance(seen['full_collections'], int)
    assert later['full_collections'] > seen['full_collections']


@pytest.mark.timeout(60)
def test_the_worker_keeps_thresholds_the_application_set(
    gunicorn: ServerFactory,  # noqa: F811
    tmp_path: Path,
) -> None:
    seen = get_json(start_worker(gunicorn, tmp_path, **{'gc.thresholds': '2000,20,20'}))
    assert seen['threshold'] == [2000, 20, 20]
