"""Which views run on the loop and which in threads; mapper configuration errors."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationExecutionError

from aiotao import make_async_app
from aiotao.mappers import CoroutineMapper, ExecutorMapper
from tests.conftest import send


def blocking_view(request: Any) -> dict[str, Any]:
    time.sleep(0.5)  # legacy code: a blocking driver call
    return {'thread': threading.current_thread().name}


async def quick_view(request: Any) -> dict[str, Any]:
    await asyncio.sleep(0.01)
    return {'thread': threading.current_thread().name}


async def test_sync_view_runs_in_a_thread_without_blocking_the_loop(
    config: Configurator,
) -> None:
    config.add_route('blocking', '/blocking')
    config.add_route('quick', '/quick')
    config.add_view(blocking_view, route_name='blocking', renderer='json')
    config.add_view(quick_view, route_name='quick', renderer='json')
    router = make_async_app(config)

    started = time.perf_counter()
    blocking = asyncio.ensure_future(send(router, '/blocking'))
    await asyncio.sleep(0.05)  # the blocking view is now sleeping in its thread
    quick = await asyncio.gather(*(send(router, '/quick') for _ in range(50)))
    quick_done = time.perf_counter() - started
    slow = await blocking
    total = time.perf_counter() - started

    loop_thread = threading.current_thread().name
    assert all(r.json['thread'] == loop_thread for r in quick)
    assert slow.json['thread'] != loop_thread
    # the 50 async requests did not wait for the 0.5 s blocking one ...
    assert quick_done < 0.45
    # ... and everything finished together in well under a second
    assert total < 1.0


async def test_mapper_per_view_executor(config: Configurator) -> None:
    def report(request: Any) -> dict[str, Any]:
        return {'thread': threading.current_thread().name}

    config.add_route('report', '/report')
    config.add_view(report, route_name='report', renderer='json', mapper=ExecutorMapper)
    response = await send(make_async_app(config), '/report')
    assert response.json['thread'] != threading.current_thread().name


def test_coroutine_mapper_refuses_a_sync_view_naming_it_and_the_fix() -> None:
    config = Configurator(settings={})
    config.include('aiotao')
    config.add_route('blocking', '/blocking')
    config.add_view(
        blocking_view, route_name='blocking', renderer='json', mapper=CoroutineMapper
    )
    with pytest.raises(ConfigurationExecutionError) as info:
        config.commit()
    message = str(info.value)
    assert 'CoroutineMapper' in message
    assert 'blocking_view' in message
    assert 'async def' in message
    assert 'ExecutorMapper' in message


def test_coroutine_mapper_as_the_default_mapper() -> None:
    config = Configurator(settings={})
    config.include('aiotao')
    config.set_view_mapper(CoroutineMapper)
    config.add_route('quick', '/quick')
    config.add_view(quick_view, route_name='quick', renderer='json')
    config.commit()  # accepted
    config.add_view(
        blocking_view, route_name='quick', renderer='json', request_param='x'
    )
    with pytest.raises(ConfigurationExecutionError, match='blocking_view'):
        config.commit()


def test_executor_mapper_refuses_a_coroutine_view() -> None:
    config = Configurator(settings={})
    config.include('aiotao')
    config.add_route('quick', '/quick')
    config.add_view(quick_view, route_name='quick', mapper=ExecutorMapper)
    with pytest.raises(
        ConfigurationExecutionError, match=r'quick_view.*coroutine function'
    ):
        config.commit()


async def test_sync_class_view_runs_in_a_thread(config: Configurator) -> None:
    class LegacyViews:
        def __init__(self, request: Any) -> None:
            self.request = request

        def show(self) -> dict[str, Any]:
            return {'thread': threading.current_thread().name}

    config.add_route('legacy', '/legacy')
    config.add_view(LegacyViews, attr='show', route_name='legacy', renderer='json')
    response = await send(make_async_app(config), '/legacy')
    assert response.json['thread'] != threading.current_thread().name
