"""Testing aiotao applications: an in-process client, a pytest plugin, view helpers.

* :class:`TestClient` (:mod:`~aiotao.testing.client`): HTTP requests and
  websockets to the application, in-process, served exactly as aiotao's
  servers serve them; :class:`SyncTestClient` (:mod:`~aiotao.testing.sync_client`)
  is the same without ``await``, for ``unittest``::

      async with TestClient(config) as client:
          assert (await client.get('/')).status_int == 200
          async with client.websocket_connect('/echo') as ws:
              await ws.send('hi')
              assert await ws.recv() == 'hi'

* :func:`run` and :class:`DummyRequest` (:mod:`~aiotao.testing.units`):
  unit tests of coroutine views, ``run(home(DummyRequest()))``;
* the pytest plugin (:mod:`~aiotao.testing.plugin`, loaded automatically
  once aiotao is installed): fixtures ``aiotao_client``,
  ``aiotao_sync_client``, ``aiotao_app``, ``aiotao_ini``,
  ``aiotao_settings``, ``aiotao_loop`` and ``aiotao_mongodb`` (a fresh
  development database per test).

The modules, by concern: :mod:`~aiotao.testing.encoding` (what a request
puts on the wire), :mod:`~aiotao.testing.cookies` (the cookie jar),
:mod:`~aiotao.testing.responses` (what comes back),
:mod:`~aiotao.testing.websocket` (the test's end of a websocket),
:mod:`~aiotao.testing.memory_transport` (the server's end, in memory),
:mod:`~aiotao.testing.loading` (configurator, app or ini),
:mod:`~aiotao.testing.mongodb` (the development MongoDB for tests).
"""

from aiotao.testing.client import TestClient
from aiotao.testing.cookies import CookieJar
from aiotao.testing.responses import TestResponse
from aiotao.testing.sync_client import SyncTestClient
from aiotao.testing.units import DummyRequest, run
from aiotao.testing.websocket import WebsocketRejected, WebsocketTestSession
from aiotao.websocket.exceptions import ConnectionClosed

__all__ = [
    'ConnectionClosed',
    'CookieJar',
    'DummyRequest',
    'SyncTestClient',
    'TestClient',
    'TestResponse',
    'WebsocketRejected',
    'WebsocketTestSession',
    'run',
]
