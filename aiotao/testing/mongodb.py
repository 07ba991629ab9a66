"""The MongoDB of a test session: a given server, or SecantusDB started for it.

The pytest plugin's ``aiotao_mongodb`` fixture gives each test a database of
its own and drops it afterwards.  The server comes from, in order:

1. ``--aiotao-mongo-uri URI`` on pytest's command line, or
   ``aiotao_mongo_uri = URI`` in its configuration;
2. the ``AIOTAO_MONGO_URI`` environment variable;
3. SecantusDB (``pip install SecantusDB``), a development server speaking
   MongoDB's protocol, started for the session in a subprocess with its
   data in memory.

SecantusDB is GPL licensed and meant for development: aiotao never imports
it, it only runs ``python -m secantus`` when that module is installed.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    'SECANTUS_MISSING',
    'DevelopmentMongoDB',
    'MongoUnavailable',
    'TestDatabase',
    'configured_uri',
    'database_name',
    'drop_database',
    'with_database',
]

#: How long SecantusDB may take to start listening.
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0

SECANTUS_MISSING = (
    'aiotao_mongodb needs a MongoDB server: pip install SecantusDB (a '
    'development server the fixture starts by itself), or give one with '
    '--aiotao-mongo-uri mongodb://HOST:PORT/ or AIOTAO_MONGO_URI'
)

_LISTENING = re.compile(r'secantus listening on [^\s:]+:(\d+)')


class MongoUnavailable(RuntimeError):
    """No MongoDB server was given and none could be started."""


@dataclass(frozen=True, slots=True)
class TestDatabase:
    """The database of one test: ``uri`` names it, ``settings`` configure an app with it.

    >>> db = TestDatabase('mongodb://127.0.0.1:27017/test_x_1', 'test_x_1')
    >>> db.settings
    {'mongo.uri': 'mongodb://127.0.0.1:27017/test_x_1'}
    """

    __test__ = False

    #: A connection string whose path is the database.
    uri: str
    #: The database's name.
    name: str

    @property
    def settings(self) -> dict[str, str]:
        """``{'mongo.uri': uri}``: the settings that give an app this database."""
        return {'mongo.uri': self.uri}


def with_database(uri: str, name: str) -> str:
    """``uri`` with its database (the path) replaced by ``name``; options kept.

    >>> with_database('mongodb://h1:1,h2:2/old?replicaSet=rs', 'new')
    'mongodb://h1:1,h2:2/new?replicaSet=rs'
    """
    parts = urlsplit(uri)
    return urlunsplit(parts._replace(path='/' + name))


def database_name(test_id: str) -> str:
    """A database name of its own for a test (MongoDB allows 63 bytes).

    >>> name = database_name('tests/test_a.py::test_save[x]')
    >>> name.startswith('test_save_x_') and len(name) < 64
    True
    """
    test = re.sub(r'[^A-Za-z0-9_]+', '_', test_id.rsplit('::', 1)[-1])
    return f'{test[:40]}_{uuid.uuid4().hex[:12]}'


def drop_database(uri: str, name: str) -> None:
    """Drop the database ``name`` on the server of ``uri`` (sync driver)."""
    import pymongo

    client: pymongo.MongoClient[dict[str, Any]]
    with pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000) as client:
        client.drop_database(name)


class DevelopmentMongoDB:
    """SecantusDB in a subprocess, on a free port of 127.0.0.1, data in memory.

    ::

        server = DevelopmentMongoDB()
        uri = server.start()          # 'mongodb://127.0.0.1:PORT/'
        ...
        server.stop()
    """

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.uri: str | None = None
        self._dir: Path | None = None

    @staticmethod
    def available() -> bool:
        """Whether SecantusDB is installed for this Python (it is not imported)."""
        return importlib.util.find_spec('secantus') is not None

    def start(self) -> str:
        """Start the server; its URI once it accepts connections."""
        if self.uri is not None:
            return self.uri
        if not self.available():
            raise MongoUnavailable(SECANTUS_MISSING)
        self._dir = Path(tempfile.mkdtemp(prefix='aiotao-test-mongodb-'))
        # an empty configuration: no secantusd.toml from the working or
        # home directory may change the test server
        config = self._dir / 'secantusd.toml'
        config.write_text('# aiotao.testing: the command line decides\n')
        log_path = self._dir / 'secantus.log'
        command = [
            sys.executable, '-m', 'secantus',
            '--config', str(config),
            '--host', '127.0.0.1',
            '--port', '0',
            '--storage-path', ':memory:',
            '--log-level', 'INFO',
        ]  # fmt: skip
        with log_path.open('wb') as log:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        port = self._wait_listening(log_path)
        self.uri = f'mongodb://127.0.0.1:{port}/'
        return self.uri

    def _wait_listening(self, log_path: Path) -> int:
        # with --port 0 the log is the only race-free way to learn the port
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            found = _LISTENING.search(log_path.read_text(errors='replace'))
            if found:
                return int(found.group(1))
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        tail = '\n'.join(log_path.read_text(errors='replace').splitlines()[-15:])
        self.stop()
        raise MongoUnavailable(f'SecantusDB did not start; its log ends with:\n{tail}')

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and remove its files."""
        process, self.process = self.process, None
        self.uri = None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


def configured_uri(option: str | None) -> str | None:
    """The server URI the user gave (the pytest option, then ``AIOTAO_MONGO_URI``)."""
    for value in (option, os.environ.get('AIOTAO_MONGO_URI')):
        if value and value.strip():
            return value.strip()
    return None
