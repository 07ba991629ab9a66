"""An application with ``request.db``, ``@cache`` and scheduled tasks, for the tests.

Served in-process through :class:`~aiotao.AsyncRouter` and by real gunicorn
workers from an ini (``use = call:tests.pkgs.mongoapp:main``).
"""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.events import NewResponse

from tests.pkgs.mongoapp import views


def make_config(settings: dict[str, Any]) -> Configurator:
    config = Configurator(settings=settings)
    config.include('aiotao')
    for include in settings.get('test.includes', '').split():
        config.include(include)
    config.add_route('visit', '/visit/{user}')
    config.add_route('hello', '/hello')
    config.add_route('stats', '/stats')
    config.add_route('cached', '/cached/{item}')
    config.add_subscriber(views.tell_the_worker, NewResponse)
    config.scan(views)
    return config


def main(global_config: dict[str, str], **settings: Any) -> Any:
    return make_config(settings).make_wsgi_app()
