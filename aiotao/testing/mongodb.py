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
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from aiotao.testing.mongodb_server import MongoDBServer, MongoUnavailable

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

SECANTUS_MISSING = (
    'aiotao_mongodb needs a MongoDB server: pip install SecantusDB (a '
    'development server the fixture starts by itself), or give one with '
    '--aiotao-mongo-uri mongodb://HOST:PORT/ or AIOTAO_MONGO_URI'
)


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
        self.uri: str | None = None
        self._server: MongoDBServer | None = None

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        return self._server.process if self._server is not None else None

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
        directory = Path(tempfile.mkdtemp(prefix='aiotao-test-mongodb-'))
        self._server = MongoDBServer(directory, storage=':memory:')
        try:
            self._server.start()
        except MongoUnavailable:
            self.stop()
            raise
        self.uri = self._server.uri
        return self.uri

    def stop(self) -> None:
        """Stop the server and remove its files."""
        server, self._server = self._server, None
        self.uri = None
        if server is not None:
            server.stop()
            shutil.rmtree(server.data_dir, ignore_errors=True)


def configured_uri(option: str | None) -> str | None:
    """The server URI the user gave (the pytest option, then ``AIOTAO_MONGO_URI``)."""
    for value in (option, os.environ.get('AIOTAO_MONGO_URI')):
        if value and value.strip():
            return value.strip()
    return None
