"""The development MongoDB for tests: one SecantusDB per session, a clean database per test.

Fixtures (import them into a ``conftest.py``)::

    from tests.harness.mongodb import mongo_db, mongo_uri, mongodb, private_mongodb

* ``mongodb``: the session's server (:class:`aiotao.testing.mongodb_server.MongoDBServer`),
  started on first use on a free port with its data in a temporary
  directory, stopped when the session ends;
* ``mongo_uri``: ``mongodb://127.0.0.1:PORT/<unique name>`` for one test; the
  database is dropped afterwards;
* ``mongo_db``: that database, through a synchronous PyMongo client;
* ``private_mongodb``: a server of the test's own, for tests that stop and
  restart it.

Without SecantusDB the tests that need it fail, saying ``pip install SecantusDB``.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymongo
import pytest

from aiotao.testing.mongodb_server import MongoDBServer, SecantusDBMissing

_session_server: MongoDBServer | None = None


def session_server(config: pytest.Config) -> MongoDBServer:
    """The session's server, started on first use (shared by every conftest)."""
    global _session_server
    if _session_server is None:
        data_dir = Path(tempfile.mkdtemp(prefix='aiotao-mongodb-'))
        server = MongoDBServer(data_dir)
        try:
            server.start()
        except SecantusDBMissing as exc:
            shutil.rmtree(data_dir, ignore_errors=True)
            pytest.fail(str(exc), pytrace=False)

        def stop() -> None:
            server.stop()
            shutil.rmtree(data_dir, ignore_errors=True)

        config.add_cleanup(stop)
        _session_server = server
    return _session_server


def database_name(nodeid: str) -> str:
    """A database name of its own for the test ``nodeid`` (MongoDB allows 63 bytes)."""
    test = re.sub(r'[^A-Za-z0-9_]+', '_', nodeid.rsplit('::', 1)[-1])
    return f'{test[:40]}_{uuid.uuid4().hex[:12]}'


def drop_database(uri: str, name: str) -> None:
    client: pymongo.MongoClient[dict[str, object]]
    with pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000) as client:
        client.drop_database(name)


@pytest.fixture
def mongodb(request: pytest.FixtureRequest) -> MongoDBServer:
    return session_server(request.config)


@pytest.fixture
def mongo_uri(mongodb: MongoDBServer, request: pytest.FixtureRequest) -> Iterator[str]:
    name = database_name(request.node.nodeid)
    yield mongodb.uri_for(name)
    if mongodb.process is not None:  # a test may not stop the shared server
        drop_database(mongodb.uri, name)


@pytest.fixture
def mongo_db(mongo_uri: str) -> Iterator[Any]:
    """A synchronous handle on the test's database, to check what the app stored."""
    client: pymongo.MongoClient[dict[str, Any]]
    with pymongo.MongoClient(mongo_uri, serverSelectionTimeoutMS=5000) as client:
        yield client.get_default_database()


@pytest.fixture
def private_mongodb(tmp_path: Path) -> Iterator[MongoDBServer]:
    server = MongoDBServer(tmp_path / 'mongodb')
    try:
        server.start()
    except SecantusDBMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()
