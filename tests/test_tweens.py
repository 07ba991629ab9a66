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


def thread_state_view(request: Any) -> dict[str, Any]:
    return {
        'owner': getattr(tweens.THREAD_STATE, 'owner', None),
        'thread': threading.current_thread().name,
    }


@pytest.mark.parametrize('between', [False, True])
async def test_a_sync_view_sees_the_thread_state_its_sync_tween_set_up(
    config: Configurator, between: bool
) -> None:
    """One thread for a request's sync parts, also across an async tween between."""
    config.add_tween('tests.pkgs.tweens.thread_state_tween_factory')
    if between:
        config.add_tween(
            'tests.pkgs.tweens.async_timing_tween_factory',
            under='tests.pkgs.tweens.thread_state_tween_factory',
        )
    config.add_route('state', '/state/{n}')
    config.add_view(thread_state_view, route_name='state', renderer='json')
    router = make_async_app(config)
    answers = await asyncio.gather(*(send(router, f'/state/{n}') for n in range(20)))
    assert [answer.json['owner'] for answer in answers] == [
        f'/state/{n}' for n in range(20)
    ]
    assert all(a.json['thread'].startswith('aiotao-request') for a in answers)


async def test_a_tween_added_after_the_app_was_made_is_in_the_next_app(
    config: Configurator,
) -> None:
    config.add_route('slow', '/slow')
    config.add_view(slow_view, route_name='slow', renderer='string')
    first = make_async_app(config.make_wsgi_app())
    config.add_tween('tests.pkgs.tweens.marking_tween_factory')
    second = make_async_app(config.make_wsgi_app())
    assert 'X-Marked' not in (await send(first, '/slow')).headers
    assert (await send(second, '/slow')).headers['X-Marked'] == 'yes'
