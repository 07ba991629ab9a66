"""Unit-testing a coroutine view: call it with a dummy request and run it.

The way Pyramid users test views, for ``async def`` views::

    from pyramid import testing
    from aiotao.testing import DummyRequest, run

    class HomeTests(unittest.TestCase):
        def setUp(self):
            self.config = testing.setUp(settings={'mongo.uri': MONGO_URI})
            self.config.include('aiotao')

        def tearDown(self):
            run(aiotao.lifecycle.stop(self.config.registry))  # closes request.db's client
            testing.tearDown()

        def test_home(self):
            info = run(home(DummyRequest(params={'sleep': '0'})))
            self.assertEqual(info['title'], 'home')

``loop.run_until_complete(view(request))`` works as well; :func:`run`
saves making and closing a loop, and keeps one for the whole test run, so
that a client bound to the loop (the MongoDB driver) serves every call of a
test.
"""

from __future__ import annotations

import asyncio  # noqa: F401  (the doctest of run() awaits asyncio.sleep)
from collections.abc import Awaitable
from functools import cached_property
from typing import Any, TypeVar

from pyramid import testing

from aiotao.request import AsyncRequestMethods
from aiotao.sync import on_loop_thread, wait_for

__all__ = ['DummyRequest', 'run']

T = TypeVar('T')


def run(awaitable: Awaitable[T]) -> T:
    """Run ``awaitable`` to completion on this thread's loop; its result.

    >>> async def double(x):
    ...     await asyncio.sleep(0)
    ...     return 2 * x
    >>> run(double(21))
    42

    It runs on aiotao's background loop, the loop that also serves the
    async parts of WSGI requests (WebTest), so a client bound to the loop
    (the MongoDB driver) serves every call of a test.  In a coroutine,
    ``await`` instead: this raises :exc:`RuntimeError` there.
    """
    if on_loop_thread():
        raise RuntimeError(
            'aiotao.testing.run() blocks and an event loop is running in this '
            'thread: await the coroutine instead (an async test does not need run())'
        )
    return wait_for(lambda: _as_coroutine(awaitable), 'the coroutine')


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable


class DummyRequest(AsyncRequestMethods, testing.DummyRequest):  # type: ignore[misc]
    """Pyramid's ``DummyRequest`` with aiotao's request API and ``request.db``.

    ``request.db`` is what it is in the application: the database of the
    ``mongo.*`` settings of the current registry (``testing.setUp(settings=
    ...)`` then ``config.include('aiotao')``), on the running loop.  Or give
    one: ``DummyRequest(db=database)``.  ``identity_async()``,
    ``has_permission_async()`` and the other async methods of aiotao's
    request are there too.

    >>> request = DummyRequest(db='a database', params={'q': 'x'})
    >>> request.db, request.params['q']
    ('a database', 'x')
    """

    @cached_property
    def db(self) -> Any:
        """The application's database (``mongo.uri``), as ``request.db`` is."""
        from aiotao.mongo import get_database

        return get_database(self.registry)

    @cached_property
    def mongo_client(self) -> Any:
        """The application's MongoDB client, as ``request.mongo_client`` is."""
        from aiotao.mongo import get_client

        return get_client(self.registry)
