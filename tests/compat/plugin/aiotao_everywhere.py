"""A pytest plugin for running another project's tests with aiotao included.

Loaded with ``-p aiotao_everywhere`` (this folder on ``PYTHONPATH``) by
:mod:`tests.compat.suites`:

* every :class:`~pyramid.config.Configurator` that sets a registry up
  includes ``aiotao`` (``pyramid.testing.setUp`` too);
* with ``AIOTAO_PATH=async``, every request a Pyramid application receives
  as a WSGI app is served by ``make_async_app(app).handle(environ)`` on an
  event loop, its synchronous parts in a request thread of aiotao's pool —
  as under aiotao's gunicorn worker.  With ``AIOTAO_PATH=wsgi`` requests
  take the WSGI path (``make_wsgi_app()`` under a WSGI server).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from pyramid import router as pyramid_router
from pyramid.config import Configurator

PATH = os.environ.get('AIOTAO_PATH', 'wsgi')
if PATH not in ('wsgi', 'async'):
    raise RuntimeError(f'AIOTAO_PATH={PATH!r}: expected wsgi or async')

_setup_registry = Configurator.setup_registry


def setup_registry_including_aiotao(self: Configurator, *args: Any, **kw: Any) -> None:
    _setup_registry(self, *args, **kw)
    self.include('aiotao')


Configurator.setup_registry = setup_registry_including_aiotao  # type: ignore[method-assign]


def serve_through_handle(
    self: Any, environ: dict[str, Any], start_response: Any
) -> Any:
    from aiotao import make_async_app
    from aiotao.sync import background_loop

    router = make_async_app(self)
    future = asyncio.run_coroutine_threadsafe(router.handle(environ), background_loop())
    response = future.result(timeout=60)
    return response(environ, start_response)


if PATH == 'async':
    pyramid_router.Router.__call__ = serve_through_handle  # type: ignore[method-assign]


def pytest_report_header() -> str:
    return f'aiotao included in every Configurator; requests take the {PATH} path'
