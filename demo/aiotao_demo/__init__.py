"""aiotao's demo application: what ``make run`` (``gunicorn --paste development.ini``) serves.

Routes: ``/`` (a Jinja2 page with links), ``/hello`` (text), ``/json``,
``/sleep?seconds=0.1`` (an ``async def`` view that awaits), ``/page`` (a
Jinja2 page rendering a 20-item loop) and ``/echo`` (a websocket echo).  The benchmarks in ``bench/`` use the same
endpoints.

It is an application of its own, beside the library (the ``aiotao-demo``
distribution in the repository's ``demo/``, installed by ``make install``),
and a PasteDeploy app factory declared in its entry points::

    [app:main]
    use = egg:aiotao_demo

``MONGO_URI`` in the environment replaces the ini's ``mongo.uri`` (the
database name stays the ini's unless the URI names one): ``make run
MONGO_PORT=27018`` starts the development MongoDB there and says so.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from pyramid.config import Configurator

from aiotao.mappers import WebsocketMapper
from aiotao_demo import views


def main(global_config: dict[str, Any], **settings: Any) -> Any:
    """Build the demo application (a PasteDeploy ``app_factory``)."""
    config = Configurator(settings=mongo_from_environment(settings, os.environ))
    config.include('aiotao')
    config.include('aiotao.websocket')
    config.include('pyramid_jinja2')
    config.include('aiotao_demo.sessions')
    config.include('aiotao_demo.chat')
    config.include('aiotao_demo.game')
    templates = 'aiotao_demo:templates/'
    config.add_route('home', '/')
    config.add_view(views.home, route_name='home', renderer=templates + 'home.jinja2')
    config.add_route('hello', '/hello')
    config.add_view(views.hello, route_name='hello', renderer='string')
    config.add_route('json', '/json')
    config.add_view(views.json, route_name='json', renderer='json')
    config.add_route('sleep', '/sleep')
    config.add_view(views.sleep, route_name='sleep', renderer='json')
    config.add_route('page', '/page')
    config.add_view(views.page, route_name='page', renderer=templates + 'page.jinja2')
    config.add_static_view('static', 'aiotao_demo:static', cache_max_age=3600)
    config.add_route('echo_test', '/echo-test')
    config.add_view(
        views.echo_test, route_name='echo_test', renderer=templates + 'echo_test.jinja2'
    )
    config.add_route('items', '/items')
    config.add_view(
        views.list_items,
        route_name='items',
        request_method='GET',
        renderer=templates + 'items.jinja2',
    )
    config.add_view(views.add_item, route_name='items', request_method='POST')
    config.add_route('echo', '/echo')
    config.add_view(views.echo, route_name='echo', mapper=WebsocketMapper)
    # the chat's and the game's message protocols, machine-readable
    config.add_asyncapi_view(
        '/asyncapi.json',
        title='aiotao demo',
        version='0.1.0',
        description='The websockets of the aiotao demo: the chat and the arena.',
    )
    return config.make_wsgi_app()


def mongo_from_environment(
    settings: dict[str, Any], environ: Mapping[str, str]
) -> dict[str, Any]:
    """``settings`` with ``mongo.uri`` from ``$MONGO_URI``, if it is set.

    >>> mongo_from_environment({'mongo.uri': 'mongodb://127.0.0.1:27017/aiotao_demo'},
    ...                        {'MONGO_URI': 'mongodb://127.0.0.1:27018/'})
    {'mongo.uri': 'mongodb://127.0.0.1:27018/', 'mongo.db': 'aiotao_demo'}
    """
    uri = environ.get('MONGO_URI')
    if not uri:
        return settings
    given = {'mongo.uri': uri}
    ini_database = urlsplit(str(settings.get('mongo.uri', ''))).path.strip('/')
    if not urlsplit(uri).path.strip('/') and ini_database:
        given['mongo.db'] = settings.get('mongo.db') or ini_database
    return {**settings, **given}
