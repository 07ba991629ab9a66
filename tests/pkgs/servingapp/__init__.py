"""The application the serving tests run under real servers.

PasteDeploy factories (``use = call:tests.pkgs.servingapp:main``):

* :func:`main`: a Pyramid app with views that sleep, fail, stream, hang
  until cancelled, set cookies, serve a file, and report what they saw;
* :func:`plain_wsgi`: a WSGI app that is not Pyramid, blocking in its
  thread and calling ``start_response`` lazily.

:func:`asgi_app` builds the ASGI app for uvicorn and ``gunicorn -k asgi``
from the ini named by ``AIOTAO_TEST_INI``.

Lifecycle events are appended, one per line, to the file named by the
``servingapp.events_file`` setting, so that a test can read what happened in
the server process.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from pyramid.config import Configurator


def main(global_config: dict[str, Any], **settings: Any) -> Any:
    config = Configurator(settings=settings)
    config.include('tests.pkgs.servingapp')
    return config.make_wsgi_app()


def includeme(config: Configurator) -> None:
    config.include('aiotao')
    config.include('aiotao.websocket')
    for name, pattern in [
        ('hello', '/hello'),
        ('sleep', '/sleep'),
        ('sleeping', '/sleeping'),
        ('sync_sleep', '/sync-sleep'),
        ('boom', '/boom'),
        ('hang', '/hang'),
        ('events', '/events'),
        ('stream', '/stream'),
        ('file', '/file'),
        ('cookies', '/cookies'),
        ('environ', '/environ'),
        ('environ_path', '/environ/*rest'),
        ('echo_body', '/echo-body'),
        ('echo', '/echo'),
    ]:
        config.add_route(name, pattern)
    config.scan('tests.pkgs.servingapp.views')
    config.scan('tests.pkgs.servingapp.lifecycle')


def plain_wsgi(global_config: dict[str, Any], **settings: Any) -> Any:
    """A blocking WSGI app: ``/block?seconds=`` holds its thread."""

    def app(
        environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterator[bytes]:
        query = environ.get('QUERY_STRING', '')
        seconds = float(query.split('=', 1)[1]) if query.startswith('seconds=') else 0
        time.sleep(seconds)  # blocks its thread, never the loop
        body = f'{threading.current_thread().name} {environ["PATH_INFO"]}'.encode()
        # start_response on the first iteration, as PEP 3333 allows
        start_response(
            '200 OK',
            [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))],
        )
        yield body

    return app


def asgi_app() -> Any:
    """The ASGI app of ``$AIOTAO_TEST_INI`` (uvicorn ``--factory``)."""
    from aiotao.serving.asgi import load_asgi_app

    return load_asgi_app(os.environ['AIOTAO_TEST_INI'])
