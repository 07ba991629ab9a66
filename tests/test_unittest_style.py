"""The seed's way of unit-testing a coroutine view keeps working."""

from __future__ import annotations

import asyncio
import unittest
from typing import Any

from pyramid import testing


async def home(request: Any) -> dict[str, Any]:
    wait_time = float(request.params.get('sleep', 0.01))
    await asyncio.sleep(wait_time)
    return {'title': 'aiotutorial websocket test', 'wait_time': wait_time}


class HomeTestCase(unittest.TestCase):
    def setUp(self) -> None:
        self.config = testing.setUp()
        self.config.include('aiotao')
        self.loop = asyncio.new_event_loop()

    def tearDown(self) -> None:
        self.loop.close()
        testing.tearDown()

    def test_home_view(self) -> None:
        request = testing.DummyRequest()
        info = self.loop.run_until_complete(home(request))
        self.assertEqual(info['title'], 'aiotutorial websocket test')

    def test_home_view_with_params(self) -> None:
        request = testing.DummyRequest(params={'sleep': '0'})
        info = asyncio.run(home(request))
        self.assertEqual(info['wait_time'], 0.0)
