"""``devtools/mongodb.py``: the development MongoDB for ``make run`` and the tests."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pymongo
import pytest

from aiotao.testing.mongodb_server import MongoDBServer
from tests.harness.gunicorn import REPO_ROOT

LAUNCHER = str(REPO_ROOT / 'devtools' / 'mongodb.py')


def launch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, LAUNCHER, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def ping(uri: str) -> bool:
    client: pymongo.MongoClient[dict[str, object]]
    with pymongo.MongoClient(uri, serverSelectionTimeoutMS=500) as client:
        try:
            client.admin.command('ping')
        except pymongo.errors.ConnectionFailure:
            return False
    return True


@pytest.mark.timeout(60)
def test_start_and_stop_a_background_server(tmp_path: Path) -> None:
    data = tmp_path / 'var' / 'mongodb'
    started = launch('start', '--data', str(data), '--port', '0')
    assert started.returncode == 0, started.stderr
    uri = started.stdout.strip()
    try:
        assert uri.startswith('mongodb://127.0.0.1:')
        assert ping(uri)
        # starting again finds it running
        assert launch('start', '--data', str(data), '--port', '0').stdout.strip() == uri
        assert (data / 'data' / 'WiredTiger').exists()  # the data lives under --data
    finally:
        stopped = launch('stop', '--data', str(data))
    assert stopped.returncode == 0, stopped.stderr
    assert not ping(uri)
    assert not (data / 'secantus.pid').exists()


@pytest.mark.timeout(60)
def test_run_serves_for_as_long_as_the_command_runs(tmp_path: Path) -> None:
    script = (
        'import os, pymongo;'
        'c = pymongo.MongoClient(os.environ["MONGO_URI"], serverSelectionTimeoutMS=5000);'
        'c.dev.things.insert_one({"made": "by the command"});'
        'print(os.environ["MONGO_URI"]); c.close(); raise SystemExit(7)'
    )
    ran = launch(
        'run',
        '--data',
        str(tmp_path),
        '--port',
        '0',
        '--',
        sys.executable,
        '-c',
        script,
    )
    assert ran.returncode == 7, ran.stderr  # the command's exit status
    uri = ran.stdout.strip().splitlines()[-1]
    assert not ping(uri)  # stopped after the command
    with MongoDBServer(tmp_path) as again:  # the data stayed under --data
        client: pymongo.MongoClient[dict[str, object]]
        with pymongo.MongoClient(again.uri) as client:
            assert client.dev.things.find_one({}, {'_id': 0}) == {
                'made': 'by the command'
            }


@pytest.mark.timeout(60)
def test_run_without_a_command_serves_until_sigterm(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, LAUNCHER, 'run', '--data', str(tmp_path), '--port', '0'],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    uri = line.split()[3]
    assert ping(uri)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    process.stdout.close()
    assert not ping(uri)


def test_a_taken_port_is_refused_with_advice(
    tmp_path: Path, mongodb: MongoDBServer
) -> None:
    taken = launch('start', '--data', str(tmp_path), '--port', str(mongodb.port))
    assert taken.returncode == 1
    assert f'port {mongodb.port} is taken (another MongoDB?)' in taken.stderr


def test_without_secantusdb_it_says_what_to_install(tmp_path: Path) -> None:
    # the launcher in a Python where the secantus module cannot be found
    hide_secantus = (
        'import runpy, sys; '
        "sys.modules['secantus'] = None; "  # what find_spec() reports as absent
        'sys.argv = sys.argv[1:]; '
        "runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    missing = subprocess.run(
        [
            sys.executable,
            '-c',
            hide_secantus,
            LAUNCHER,
            'start',
            '--data',
            str(tmp_path / 'x'),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert missing.returncode == 1, missing.stderr
    assert 'needs SecantusDB' in missing.stderr
    assert 'pip install SecantusDB' in missing.stderr


def test_the_library_never_imports_secantusdb() -> None:
    found = subprocess.run(
        ['grep', '-rlE', r'^\s*(import|from) secantus', str(REPO_ROOT / 'aiotao')],
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.stdout == ''
    code = (
        'import sys, aiotao, aiotao.mongo, aiotao.cache, aiotao.cache.mongo, '
        'aiotao.schedule; print([m for m in sys.modules if m.startswith("secantus")])'
    )
    result = subprocess.run(
        [sys.executable, '-c', code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == '[]'
