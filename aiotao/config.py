"""What ``config.include('aiotao')`` installs, all through Pyramid directives.

* context-local ``get_current_request()`` (:mod:`aiotao.threadlocal`);
* the awaitable-aware view derivers under Pyramid's names and places
  (:mod:`aiotao.viewderivers`);
* :class:`~aiotao.mappers.CoroutineOrExecutorMapper` as the default view
  mapper;
* security that awaits async policies and fails closed (:mod:`aiotao.security`);
* the execution policy that runs async views under any WSGI server
  (:mod:`aiotao.wsgi`);
* websocket settings and groups (:mod:`aiotao.websocket`);
* ``request.db`` when ``mongo.uri`` is set (:mod:`aiotao.mongo`), the
  ``@cache`` backend when ``cache.backend`` is set (:mod:`aiotao.cache`) and
  scheduled tasks when an ``aiotao.schedule.*`` setting is (:mod:`aiotao.schedule`).

The request gets async counterparts of Pyramid's API from the router (see
:mod:`aiotao.request`).  ``ptweens`` and ``pviews`` show the result as usual.
"""

from __future__ import annotations

from pyramid.config import Configurator
from pyramid.viewderivers import VIEW

from aiotao import threadlocal
from aiotao.mappers import CoroutineOrExecutorMapper
from aiotao.viewderivers import REPLACED_DERIVERS
from aiotao.wsgi import async_execution_policy


def include_async_pipeline(config: Configurator) -> None:
    threadlocal.install()
    for name, deriver, under in REPLACED_DERIVERS:
        config.add_view_deriver(deriver, name=name, under=under, over=VIEW)
    config.set_view_mapper(CoroutineOrExecutorMapper)
    config.include('aiotao.security')
    config.set_execution_policy(async_execution_policy)
    config.include('aiotao.websocket')
    config.include('aiotao.worker_check')
    # The batteries come with their settings: an ini that names them gets them.
    settings = config.registry.settings or {}
    if settings.get('mongo.uri'):
        config.include('aiotao.mongo')
    if settings.get('cache.backend'):
        config.include('aiotao.cache')
    if any(key.startswith('aiotao.schedule.') for key in settings):
        config.include('aiotao.schedule')
