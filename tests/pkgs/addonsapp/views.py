"""Views of :mod:`tests.pkgs.addonsapp`, each through one add-on."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from cornice import Service
from pyramid.response import Response
from pyramid.view import exception_view_config, view_config
from pyramid_layout.panel import panel_config

# -- cornice ---------------------------------------------------------------------

items = Service(name='items', path='/cornice/items', description='Items')
async_items = Service(name='async_items', path='/cornice/async-items')


def requires_name(request: Any, **kwargs: Any) -> None:
    """A cornice validator: errors end in cornice's 400 JSON response."""
    if not request.params.get('name'):
        request.errors.add('querystring', 'name', 'name is required')
    else:
        request.validated['name'] = request.params['name']


@items.get(validators=(requires_name,))
def get_item(request: Any) -> dict[str, Any]:
    return {'name': request.validated['name']}


@async_items.get(validators=(requires_name,))
async def get_async_item(request: Any) -> dict[str, Any]:
    await asyncio.sleep(0)
    return {'name': request.validated['name']}


# -- pyramid_layout ----------------------------------------------------------------


@panel_config(name='greeting')
def greeting_panel(context: Any, request: Any, who: str) -> str:
    return f'<p class="greeting">Hello, {who}!</p>'


@view_config(route_name='panel')
def panel_page(request: Any) -> Response:
    return Response(str(request.layout_manager.render_panel('greeting', who='Ada')))


@view_config(route_name='async_panel')
async def async_panel_page(request: Any) -> Response:
    await asyncio.sleep(0)
    return Response(str(request.layout_manager.render_panel('greeting', who='Bo')))


# -- pyramid_openapi3 --------------------------------------------------------------


@view_config(
    route_name='greetings', renderer='json', request_method='POST', openapi=True
)
def greet(request: Any) -> dict[str, Any]:
    return {'greeting': f'Hello, {request.openapi_validated.body["name"]}!'}


# -- pyramid_debugtoolbar, and an exception view that re-raises ---------------------


@view_config(route_name='page')
def page(request: Any) -> Response:
    return Response(
        '<html><body><h1>A page</h1></body></html>', content_type='text/html'
    )


class Broken(Exception):
    pass


@view_config(route_name='failing')
def failing(request: Any) -> Response:
    raise Broken('the view broke')


@exception_view_config(Broken)
def reraising_exception_view(exc: Broken, request: Any) -> Response:
    """What cornice's handler does: look at the active exception, re-raise or not."""
    active = sys.exc_info()[1]
    try:
        raise  # the exception being handled, as in an except block
    except Broken as reraised:
        same = reraised is exc is active
    return Response(f'handled {exc}; active exception is the one handled: {same}')
