"""The demo's endpoints on stock, synchronous Pyramid, for gunicorn ``gthread``.

Served by ``bench/servers.py`` as
``gunicorn pyramid_sync:app --worker-class gthread --threads 32``.

The page is the demo's own template through pyramid_jinja2; ``/sleep``
blocks its thread with ``time.sleep``.  No websocket: plain WSGI has none.
"""

from __future__ import annotations

import math
import time
from typing import Any

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPBadRequest

MAX_SLEEP_SECONDS = 10.0


def hello(request: Any) -> str:
    return 'Hello, world!'


def json(request: Any) -> dict[str, Any]:
    return {'message': 'Hello, world!', 'framework': 'pyramid', 'server': 'gthread'}


def sleep(request: Any) -> dict[str, float]:
    try:
        seconds = float(request.params.get('seconds', '0.1'))
    except ValueError:
        seconds = math.nan
    if not 0 <= seconds <= MAX_SLEEP_SECONDS:
        raise HTTPBadRequest('seconds must be a number from 0 to 10')
    time.sleep(seconds)
    return {'slept': seconds}


def page(request: Any) -> dict[str, Any]:
    items = [{'id': n, 'name': f'item {n}', 'price': n * 1.25} for n in range(20)]
    return {'title': 'Twenty items', 'items': items}


def make_app() -> Any:
    config = Configurator(settings={'pyramid.reload_templates': False})
    config.include('pyramid_jinja2')
    config.add_route('hello', '/hello')
    config.add_view(hello, route_name='hello', renderer='string')
    config.add_route('json', '/json')
    config.add_view(json, route_name='json', renderer='json')
    config.add_route('sleep', '/sleep')
    config.add_view(sleep, route_name='sleep', renderer='json')
    config.add_route('page', '/page')
    config.add_view(
        page, route_name='page', renderer='bench_templates:page.jinja2'
    )
    return config.make_wsgi_app()


app = make_app()
