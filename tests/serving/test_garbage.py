"""The collector tuned for serving: in a fresh process, and in the worker."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from aiotao.serving.garbage import SERVING_THRESHOLD
from tests.harness.gunicorn import (  # noqa: F401  (fixture)
    ServerFactory,
    gunicorn,
)

WORKER = 'aiotao.gunicorn.Worker'


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
    seen = get_json(start_worker(gunicorn, tmp_path))
    assert seen['threshold'] == [SERVING_THRESHOLD, 10, 10]
    assert isinstance(seen['frozen'], int) and seen['frozen'] > 1000


@pytest.mark.timeout(60)
def test_the_worker_keeps_thresholds_the_application_set(
    gunicorn: ServerFactory,  # noqa: F811
    tmp_path: Path,
) -> None:
    seen = get_json(start_worker(gunicorn, tmp_path, **{'gc.thresholds': '2000,20,20'}))
    assert seen['threshold'] == [2000, 20, 20]
