"""Server start and stop as events; aiotao's own hooks cost requests nothing."""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.events import BeforeRender, NewRequest

from aiotao import lifecycle
from aiotao.lifecycle import ServerStarted, ServerStopping, add_lifecycle_subscriber
from aiotao.testing import TestClient


async def tick(registry: Any) -> None:
    """A scheduled task for the settings below (never run here)."""


def test_aiotaos_add_ons_leave_the_per_request_events_off() -> None:
    config = Configurator(
        settings={
            'mongo.uri': 'mongodb://127.0.0.1:1/unused',
            'aiotao.schedule.tick': '60 tests.test_lifecycle:tick',
            'aiotao.game.rules': 'tests.game.rules.Counters',
        }
    )
    for add_on in ('aiotao', 'aiotao.websocket', 'aiotao.chat', 'aiotao.game'):
        config.include(add_on)
    registry = config.make_wsgi_app().registry
    # nothing listens to NewRequest, BeforeRender...: Pyramid skips them all
    assert registry.has_listeners is False
    subscribers = registry.adapters.subscriptions
    assert len(subscribers([ServerStopping.__implemented__], None)) >= 4  # type: ignore[attr-defined]


async def test_lifecycle_subscribers_are_called_in_order_of_their_actions() -> None:
    calls: list[str] = []

    async def opened(event: ServerStarted) -> None:
        calls.append(f'started on {type(event.loop).__name__}')

    def closing_last(event: ServerStopping) -> None:
        calls.append('stopping, last')

    async def closing(event: ServerStopping) -> None:
        calls.append('stopping')

    config = Configurator()
    config.include('aiotao')
    add_lifecycle_subscriber(config, closing_last, ServerStopping, order=10)
    add_lifecycle_subscriber(config, opened, ServerStarted)
    add_lifecycle_subscriber(config, closing, ServerStopping)
    registry = config.make_wsgi_app().registry
    assert registry.has_listeners is False
    await lifecycle.start(registry)
    await lifecycle.stop(registry)
    assert calls == ['started on _UnixSelectorEventLoop', 'stopping', 'stopping, last']


async def test_the_applications_own_subscribers_are_called() -> None:
    seen: list[str] = []

    def new_request(event: NewRequest) -> None:
        seen.append('new request')

    def before_render(event: Any) -> None:
        event['greeting'] = 'hello from a subscriber'

    async def started(event: ServerStarted) -> None:
        seen.append('started')

    config = Configurator()
    config.include('aiotao')
    config.include('aiotao.websocket')  # a quiet lifecycle subscriber first
    config.add_subscriber(new_request, NewRequest)
    config.add_subscriber(before_render, BeforeRender)
    config.add_subscriber(started, ServerStarted)
    config.add_route('hello', '/')

    def greet(info: Any) -> Any:
        return lambda value, system: system['greeting']

    config.add_renderer('greeting', greet)
    config.add_view(lambda request: {}, route_name='hello', renderer='greeting')
    async with TestClient(config) as client:
        response = await client.get('/')
    assert response.text == 'hello from a subscriber'
    assert seen == ['started', 'new request']
