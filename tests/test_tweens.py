"""Async tweens run natively; sync tweens are adapted around the async pipeline."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest
from pyramid.config import Configurator

from aiotao import make_async_app
from tests.conftest import send
from tests.pkgs import tweens


@pytest.fixture(autouse=True)
def clear_events() -> None:
    tweens.EVENTS.clear()


async def slow_view(request: Any) -> str:
    tweens.EVENTS.append('view: start')
    await asyncio.sleep(0.05)
    tweens.EVENTS.append('view: end')
    return 'done'


def make_app(config: Configurator) -> Any:
    config.add_route('slow', '/slow')
    config.add_view(slow_view, route_name='slow', renderer='string')
    return make_async_app(config)


async def test_async_tween_wraps_the_view(config: Configurator) -> None:
    config.add_tween('tests.pkgs.tweens.async_timing_tween_factory')
    response = await send(make_app(config), '/slow')
    assert response.headers['X-Async-Tween'] == 'yes'
    assert tweens.EVENTS == [
        'async tween: before',
        'view: start',
        'view: end',
        'async tween: after',
    ]


async def test_sync_tween_code_after_handler_runs_after_the_async_view(
    config: Configurator, caplog: pytest.LogCaptureFixture
) -> None:
    config.add_tween('tests.pkgs.tweens.sync_wrapping_tween_factory')
    with caplog.at_level(logging.INFO, logger='aiotao.tweens'):
        router = make_app(config)
    assert 'tests.pkgs.tweens.sync_wrapping_tween_factory is synchronous' in caplog.text
    response = await send(router, '/slow')
    assert response.text == 'done'
    assert tweens.EVENTS == [
        'sync tween: begin',
        'view: start',
        'view: end',
        'sync tween: got Response',
        'sync tween: finally',
    ]
    # the sync tween ran off the loop's thread, so the loop stayed free
    assert response.headers['X-Sync-Tween-Thread'] != threading.current_thread().name


async def test_sync_and_async_tweens_together_with_exception_views(
    config: Configurator,
) -> None:
    class Oops(Exception):
        pass

    async def failing(request: Any) -> str:
        await asyncio.sleep(0)
        raise Oops('x')

    async def oops_view(exc: Oops, request: Any) -> Any:
        request.response.status_int = 418
        request.response.text = 'handled'
        return request.response

    config.add_tween('tests.pkgs.tweens.async_timing_tween_factory')
    config.add_tween('tests.pkgs.tweens.sync_wrapping_tween_factory')
    config.add_route('failing', '/failing')
    config.add_view(failing, route_name='failing')
    config.add_exception_view(oops_view, context=Oops)
    response = await send(make_async_app(config), '/failing')
    assert response.status_int == 418
    assert response.headers['X-Async-Tween'] == 'yes'
    assert 'sync tween: finally' in tweens.EVENTS
