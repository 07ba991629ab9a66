"""The benchmark's endpoints on aiotao, for ``bench/aiotao.ini``.

Served by ``bench/servers.py`` as
``gunicorn --paste bench/aiotao.ini --worker-class aiotao.serving.gunicorn.Worker``.
The views and templates are the demo's (:mod:`aiotao_demo.views`); the
demo's batteries (chat and game keep their state in MongoDB) are left out,
since the benchmark measures serving, not a database.
"""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator

from aiotao_demo import views
from aiotao.mappers import WebsocketMapper

TEMPLATES = 'bench_templates:'


def main(global_config: dict[str, Any], **settings: Any) -> Any:
    """Build the application (a PasteDeploy ``app_factory``)."""
    config = Configurator(settings=settings)
    config.include('aiotao')
    config.include('pyramid_jinja2')
    config.add_route('hello', '/hello')
    config.add_view(views.hello, route_name='hello', renderer='string')
    config.add_route('json', '/json')
    config.add_view(views.json, route_name='json', renderer='json')
    config.add_route('sleep', '/sleep')
    config.add_view(views.sleep, route_name='sleep', renderer='json')
    config.add_route('page', '/page')
    config.add_view(views.page, route_name='page', renderer=TEMPLATES + 'page.jinja2')
    config.add_route('echo', '/echo')
    config.add_view(views.echo, route_name='echo', mapper=WebsocketMapper)
    return config.make_wsgi_app()
