"""aiotao's pytest plugin, loaded automatically once aiotao is installed.

Fixtures (all named ``aiotao_*``, so that they meet no project's own):

``aiotao_client``
    An async :class:`~aiotao.testing.TestClient` for :func:`aiotao_app`,
    started (``ServerStarted``) before the test and stopped after it.
    Needs pytest-asyncio, which runs ``async def`` tests.
``aiotao_sync_client``
    The same as a :class:`~aiotao.testing.SyncTestClient`, for plain tests.
``aiotao_app``
    What the clients serve.  By default the ini file of :func:`aiotao_ini`;
    override it to serve a configurator or an app::

        @pytest.fixture
        def aiotao_app():
            config = Configurator(settings={'aiotao.websocket.allowed_origins': '*'})
            config.include('myproject')
            return config

``aiotao_ini``
    The ini file: ``pytest --aiotao-ini test.ini`` or ``aiotao_ini =
    test.ini`` in pytest's configuration (relative to its file); override
    the fixture to choose in code.
``aiotao_settings``
    Settings replacing the ini's (``{}`` by default), e.g. the test database::

        @pytest.fixture
        def aiotao_settings(aiotao_mongodb):
            return aiotao_mongodb.settings      # {'mongo.uri': ...}

``aiotao_mongodb``
    A fresh MongoDB database for the test, dropped after it: ``.uri``,
    ``.name``, ``.settings``.  The server is ``--aiotao-mongo-uri`` /
    ``AIOTAO_MONGO_URI``, else SecantusDB started for the session (see
    :mod:`aiotao.testing.mongodb`).
``aiotao_loop``
    A new event loop for synchronous tests of coroutines, closed afterwards:
    ``aiotao_loop.run_until_complete(home(request))``.  ``async def`` tests
    need no loop fixture: pytest-asyncio runs them.

A test using them::

    async def test_home(aiotao_client):
        response = await aiotao_client.get('/')
        assert response.status_int == 200
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - exercised in a subprocess test
    pytest_asyncio = None  # type: ignore[assignment]

_NO_APP = (
    'the aiotao fixtures need an application: give an ini file with '
    '"pytest --aiotao-ini development.ini" (or aiotao_ini = ... in pytest\'s '
    'configuration), or override the aiotao_app fixture to return a '
    'Configurator or an app'
)
_NO_PYTEST_ASYNCIO = (
    'aiotao_client is an async fixture for async tests, which need '
    'pytest-asyncio: pip install pytest-asyncio (or use aiotao_sync_client)'
)


def pytest_configure(config: pytest.Config) -> None:
    let_pkg_resources_read_rewritten_modules()


def let_pkg_resources_read_rewritten_modules() -> None:
    """Let Pyramid find package files of modules pytest loaded itself.

    pytest loads the modules of a plugin's distribution -- aiotao's own, once
    installed from a wheel -- through its assertion-rewriting loader.
    Pyramid looks up static files and templates with ``pkg_resources``,
    which refuses loaders it does not know ("unregistered loader type"), so
    ``aiotao.game``'s script served in-process would fail in a user's tests.
    The rewritten modules are plain files on disk: read them as such.
    """
    from _pytest.assertion.rewrite import AssertionRewritingHook

    with warnings.catch_warnings():
        # setuptools deprecates pkg_resources; Pyramid still uses it
        warnings.simplefilter('ignore', DeprecationWarning)
        import pkg_resources

    pkg_resources.register_loader_type(
        AssertionRewritingHook, pkg_resources.DefaultProvider
    )


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup('aiotao', 'aiotao test client')
    group.addoption(
        '--aiotao-ini',
        metavar='PATH',
        help='the ini file (PATH or PATH#name) aiotao_client serves',
    )
    group.addoption(
        '--aiotao-mongo-uri',
        metavar='URI',
        help='MongoDB server for aiotao_mongodb (default: AIOTAO_MONGO_URI, '
        'else SecantusDB started for the session)',
    )
    parser.addini('aiotao_ini', 'the ini file aiotao_client serves')
    parser.addini('aiotao_mongo_uri', 'MongoDB server for aiotao_mongodb')


@pytest.fixture
def aiotao_ini(request: pytest.FixtureRequest) -> str | None:
    """The ini file to serve (see the module documentation), or ``None``."""
    config = request.config
    option = config.getoption('aiotao_ini')
    if option:
        # relative to where pytest was started, as paths on a command line are
        path, _, name = str(option).partition('#')
        full = config.invocation_params.dir / path
        return str(full) + (f'#{name}' if name else '')
    value = config.getini('aiotao_ini')
    if value:
        base = config.inipath.parent if config.inipath else config.rootpath
        return str(base / str(value))
    return None


@pytest.fixture
def aiotao_settings() -> dict[str, Any]:
    """Settings replacing the ini's; none by default."""
    return {}


@pytest.fixture
def aiotao_app(aiotao_ini: str | None) -> Any:
    """What the clients serve: by default the ini of ``aiotao_ini``."""
    if aiotao_ini is None:
        pytest.fail(_NO_APP, pytrace=False)
    return aiotao_ini


if pytest_asyncio is not None:

    @pytest_asyncio.fixture
    async def aiotao_client(
        aiotao_app: Any, aiotao_settings: dict[str, Any]
    ) -> AsyncIterator[Any]:
        """A started :class:`~aiotao.testing.TestClient` for ``aiotao_app``."""
        from aiotao.testing.client import TestClient

        async with TestClient(aiotao_app, settings=aiotao_settings or None) as client:
            yield client

else:  # pragma: no cover - exercised in a subprocess test

    @pytest.fixture
    def aiotao_client() -> Any:
        pytest.fail(_NO_PYTEST_ASYNCIO, pytrace=False)


@pytest.fixture
def aiotao_sync_client(
    aiotao_app: Any, aiotao_settings: dict[str, Any]
) -> Iterator[Any]:
    """A started :class:`~aiotao.testing.SyncTestClient` for ``aiotao_app``."""
    from aiotao.testing.sync_client import SyncTestClient

    with SyncTestClient(aiotao_app, settings=aiotao_settings or None) as client:
        yield client


@pytest.fixture
def aiotao_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A fresh event loop for ``run_until_complete``, closed after the test."""
    loop = asyncio.new_event_loop()
    try:
        yield loop
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()


_SERVER_KEY = pytest.StashKey[Any]()


def _server_uri(config: pytest.Config) -> str:
    """The session's MongoDB server, given or started on first use."""
    from aiotao.testing.mongodb import (
        DevelopmentMongoDB,
        MongoUnavailable,
        configured_uri,
    )

    given = configured_uri(
        config.getoption('aiotao_mongo_uri') or config.getini('aiotao_mongo_uri')
    )
    if given:
        return given
    server: DevelopmentMongoDB | None = config.stash.get(_SERVER_KEY, None)
    if server is None:
        server = DevelopmentMongoDB()
        config.stash[_SERVER_KEY] = server
        config.add_cleanup(server.stop)
    try:
        return server.start()
    except MongoUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def aiotao_mongodb(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A database of the test's own on the session's MongoDB, dropped after it."""
    from aiotao.testing.mongodb import (
        TestDatabase,
        database_name,
        drop_database,
        with_database,
    )

    server_uri = _server_uri(request.config)
    name = database_name(request.node.nodeid)
    yield TestDatabase(with_database(server_uri, name), name)
    drop_database(server_uri, name)
