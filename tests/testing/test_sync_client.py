"""SyncTestClient from plain ``unittest`` code: HTTP, cookies, websockets."""

from __future__ import annotations

import threading
import time
import unittest

from aiotao.testing import ConnectionClosed, SyncTestClient, WebsocketRejected
from tests.testing.app import make_config


class SyncClientTests(unittest.TestCase):
    def setUp(self) -> None:
        self.client = self.enterContext(SyncTestClient(make_config()))

    def test_requests_and_cookies(self) -> None:
        self.assertEqual(self.client.get('/lifecycle').json, {'started': 1})
        self.client.get('/login', params={'name': 'dora'})
        self.assertEqual(self.client.get('/me').json['name'], 'dora')
        self.assertIn('session', self.client.cookies)
        response = self.client.post('/echo', json={'a': 1})
        self.assertEqual(response.json['json'], {'a': 1})
        self.assertEqual(self.client.head('/hello').body, b'')

    def test_websocket_messages_and_close_codes(self) -> None:
        with self.client.websocket_connect('/ws/echo') as ws:
            ws.send('hello')
            self.assertEqual(ws.recv(), 'hello')
            ws.send_json({'n': 1})
            self.assertEqual(ws.recv_json(), {'n': 1})
        self.assertEqual(ws.close_code, 1000)
        with self.client.websocket_connect('/ws/fail') as ws:
            ws.send('go')
            with self.assertRaises(ConnectionClosed) as closed:
                ws.recv()
        self.assertEqual(closed.exception.code, 1011)
        with self.client.websocket_connect('/ws/subprotocol') as ws:
            self.assertEqual(list(ws), ['none'])

    def test_refused_handshakes(self) -> None:
        with self.assertRaises(WebsocketRejected) as refused:
            with self.client.websocket_connect(
                '/ws/private', headers={'X-User': 'eve'}
            ):
                pass
        self.assertEqual(refused.exception.response.status_int, 403)
        with self.assertRaises(WebsocketRejected) as refused:
            with self.client.websocket_connect(
                '/ws/echo', origin='https://evil.example'
            ):
                pass
        self.assertEqual(refused.exception.status_int, 403)

    def test_the_app_keeps_running_between_calls(self) -> None:
        # the view floods a client that does not read; it is dropped while
        # the test itself does nothing: the app's loop runs in its thread
        with self.client.websocket_connect('/ws/flood') as ws:
            time.sleep(1.5)  # over aiotao.websocket.send_timeout
            with self.assertRaises(ConnectionClosed) as closed:
                while True:
                    ws.recv()
        self.assertEqual(closed.exception.code, 1008)


class SyncClientLifecycleTests(unittest.TestCase):
    def test_close_stops_the_loop_thread(self) -> None:
        client = SyncTestClient(make_config())
        self.assertEqual(client.get('/hello').status_int, 200)
        threads = {thread.name for thread in threading.enumerate()}
        self.assertIn('aiotao-testclient', threads)
        client.close()
        threads = {thread.name for thread in threading.enumerate()}
        self.assertNotIn('aiotao-testclient', threads)

    def test_exit_runs_server_stopping(self) -> None:
        with SyncTestClient(make_config()) as client:
            registry = client.registry
        self.assertEqual(registry['testing.stopped'], 1)
