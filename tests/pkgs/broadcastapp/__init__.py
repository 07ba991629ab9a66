"""A chat room in a few lines, served by several workers: what the broadcast backends carry.

* ``/room/{name}`` (websocket): joins the group ``name``, says
  ``joined <worker pid>``, then broadcasts every message it receives to
  the group (``str`` stays ``str``, ``bytes`` stay ``bytes``);
* ``/pid``: the pid of the worker that answers.

Served by gunicorn from an ini (``use = call:tests.pkgs.broadcastapp:main``,
see :mod:`tests.pkgs.broadcastapp.served`), and by ``bench/fanout.py``.
"""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator

from tests.pkgs.broadcastapp import views


def main(global_config: dict[str, str], **settings: Any) -> Any:
    config = Configurator(settings=settings)
    config.include('aiotao')
    config.add_route('pid', '/pid')
    config.add_route('room', '/room/{name}')
    config.scan(views)
    return config.make_wsgi_app()
