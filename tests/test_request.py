"""The async counterparts are on the request, whatever the request factory."""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.request import Request

from aiotao import make_async_app
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
