"""The async counterparts are on the request, whatever the request factory."""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.request import Request

from aiotao import make_async_app
from aiotao.router import AsyncRouter
from tests.conftest import send


class AppRequest(Request):
    """An application's own request class, as many Pyramid apps have."""

    @property
    def tenant(self) -> str:
        return 'acme'


async def whoami(request: Any) -> dict[str, Any]:
    return {
        'tenant': request.tenant,
        'permission': bool(await request.has_permission_async('anything')),
        'identity': await request.identity_async(),
    }


async def test_custom_request_factory_gets_async_methods(config: Configurator) -> None:
    config.set_request_factory(AppRequest)
    config.add_route('me', '/me')
    config.add_view(whoami, route_name='me', renderer='json')
    response = await send(make_async_app(config), '/me')
    # no security policy: everything allowed, nobody identified (as in Pyramid)
    assert response.json == {'tenant': 'acme', 'permission': True, 'identity': None}


async def test_default_request_has_async_methods(config: Configurator) -> None:
    async def view(request: Any) -> dict[str, Any]:
        return {
            'identity': await request.identity_async(),
            'class': type(request).__module__,
        }

    config.add_route('me', '/me')
    config.add_view(view, route_name='me', renderer='json')
    response = await send(make_async_app(config), '/me')
    assert response.json == {'identity': None, 'class': 'aiotao.request'}


async def test_reified_request_properties_are_per_request(config: Configurator) -> None:
    made: list[int] = []

    def counter(request: Any) -> int:
        made.append(1)
        return len(made)

    async def view(request: Any) -> dict[str, Any]:
        # reified: computed once per request, whatever the number of reads
        return {
            'first': request.counter,
            'again': request.counter,
            'class': type(request).__name__,
        }

    config.add_request_method(counter, 'counter', reify=True)
    config.add_route('count', '/count')
    config.add_view(view, route_name='count', renderer='json')
    router = make_async_app(config)
    first = (await send(router, '/count')).json
    second = (await send(router, '/count')).json
    assert (first['first'], first['again']) == (1, 1)
    assert (second['first'], second['again']) == (2, 2)
    assert first['class'] == second['class'] == 'Request'


async def test_request_methods_from_add_request_method(config: Configurator) -> None:
    def greeting(request: Any, name: str) -> str:
        return f'hello {name} at {request.path}'

    async def view(request: Any) -> str:
        return request.greeting('ada')

    config.add_request_method(greeting)
    config.add_route('greet', '/greet')
    config.add_view(view, route_name='greet', renderer='string')
    assert (await send(make_async_app(config), '/greet')).text == 'hello ada at /greet'


async def test_an_app_without_aiotao_websocket_serves_its_own_request_class() -> None:
    # A Pyramid app that never included aiotao (served by aiotao's worker)
    # has no websocket groups: its requests are served all the same.
    config = Configurator(settings={})
    config.set_request_factory(AppRequest)
    config.add_route('me', '/me')
    config.add_view(
        lambda request: {'tenant': request.tenant}, route_name='me', renderer='json'
    )
    app = config.make_wsgi_app()
    response = await send(AsyncRouter(app.registry, app), '/me')
    assert response.json == {'tenant': 'acme'}
