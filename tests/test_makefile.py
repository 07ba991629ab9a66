"""The Makefile's commands that the docs give: ``make run`` on ports of your choice."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pymongo
import pytest

from tests.harness.gunicorn import REPO_ROOT, ServerProcess, free_port


def port_is_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(('127.0.0.1', port)) == 0


@pytest.mark.timeout(120)
def test_make_run_serves_the_demo_and_its_database_on_the_ports_given(
    tmp_path: Path,
) -> None:
    port, mongo_port = free_port(), free_port()
    log = tmp_path / 'make-run.log'
    argv = [
        'make',
        '--no-print-directory',
        '-o',
        'install',  # this virtualenv is installed already
        'run',
        f'PORT={port}',
        f'MONGO_PORT={mongo_port}',
        f'MONGO_DATA={tmp_path / "mongodb"}',
        f'VENV={sys.prefix}',
    ]
    with log.open('wb') as output:
        process = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own group: make, MongoDB's launcher, gunicorn
        )
    server = ServerProcess(process, port, log)
    try:
        server.wait_until_serving('/hello', timeout=60)
        # /items shows what the database on MONGO_PORT holds
        with pymongo.MongoClient(
            f'mongodb://127.0.0.1:{mongo_port}/', serverSelectionTimeoutMS=5000
        ) as client:
            client.aiotao_demo.items.insert_one(
                {'text': 'kept on MONGO_PORT', 'created': datetime.now(UTC)}
            )
        with urllib.request.urlopen(server.url('/items'), timeout=10) as response:
            assert 'kept on MONGO_PORT' in response.read().decode()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    # Ctrl-C or SIGTERM stops both servers
    deadline = time.monotonic() + 30
    while port_is_open(mongo_port) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not port_is_open(mongo_port), server.log()
    assert not port_is_open(port)
