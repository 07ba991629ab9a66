"""What ``config.include('aiotao')`` installs, all through Pyramid directives.

* context-local ``get_current_request()`` (:mod:`aiotao.threadlocal`),
  installed when the configuration is committed;
* the awaitable-aware view derivers under Pyramid's names and places, with
  the ``blocking`` view option (:mod:`aiotao.viewderivers`);
* :class:`~aiotao.mappers.CoroutineOrExecutorMapper` as the default view
  mapper;
* security that awaits async policies and fails closed (:mod:`aiotao.security`);
* the application's execution policy (Pyramid's, pyramid_retry's...) run on
  aiotao's router, so async views work under any WSGI server too
  (:mod:`aiotao.execution`);
* websocket settings and groups (:mod:`aiotao.websocket`);
* the ``@cache`` backend (:mod:`aiotao.cache`; in memory unless
  ``cache.backend`` says otherwise), ``request.db`` when ``mongo.uri`` is set
  (:mod:`aiotao.mongo`) and scheduled tasks when an ``aiotao.schedule.*``
  setting is (:mod:`aiotao.schedule`).

Each service is registered by a configurator action (:mod:`aiotao.services`):
conflicting registrations fail at commit, and the introspector lists them
under ``'aiotao services'``.

The request gets async counterparts of Pyramid's API from the router (see
:mod:`aiotao.request`).  ``ptweens`` and ``pviews`` show the result as usual.
"""

from __future__ import annotations

from pyramid import threadlocal as pyramid_threadlocal
from pyramid.config import Configurator
from pyramid.viewderivers import VIEW

from aiotao import threadlocal
from aiotao.interfaces import IAsyncPipeline, IThreadLocalManager
from aiotao.mappers import CoroutineOrExecutorMapper
from aiotao.rendering import json_encoder
from aiotao.services import FOUNDATION, register_service
from aiotao.viewderivers import REPLACED_DERIVERS


class AsyncPipeline:
    """Registered by the include: this application runs on aiotao's pipeline.

    Servers look for it to serve a Pyramid application natively on the
    loop; an application without it is served as Pyramid serves it, each
    request in one thread (:mod:`aiotao.serving.application`).
    """


def _install_threadlocal(registry: object) -> object:
    threadlocal.install()
    return pyramid_threadlocal.manager


def include_async_pipeline(config: Configurator) -> None:
    # Pyramid's manager is one object for the whole process: swapping its
    # class is an action, so that it shows in the introspector, and the
    # first services built (FOUNDATION) already run with it.
    register_service(
        config,
        IThreadLocalManager,
        _install_threadlocal,
        title='context-local pyramid.threadlocal.manager',
        include='aiotao',
        order=FOUNDATION - 5,
    )
    register_service(
        config,
        IAsyncPipeline,
        lambda registry: AsyncPipeline(),
        title='async pipeline',
        include='aiotao',
    )
    for name, deriver, under in REPLACED_DERIVERS:
        config.add_view_deriver(deriver, name=name, under=under, over=VIEW)
    config.set_view_mapper(CoroutineOrExecutorMapper)
    config.include('aiotao.security')
    config.include('aiotao.execution')
    config.include('aiotao.transactions')
    config.include('aiotao.websocket')
    config.include('aiotao.cache')
    config.include('aiotao.worker_check')
    # The batteries come with their settings: an ini that names them gets them.
    settings = config.registry.settings or {}
    json_encoder(settings)  # a wrong aiotao.json fails here, named
    # read by the worker; checked now, so that a bad value stops the start
    # (imported here: aiotao.serving imports this module)
    from aiotao.serving.admission import AdmissionSettings

    AdmissionSettings.from_settings(settings)
    if settings.get('mongo.uri'):
        config.include('aiotao.mongo')
    if any(key.startswith('aiotao.schedule.') for key in settings):
        config.include('aiotao.schedule')


def includes_aiotao(registry: object) -> bool:
    """``True`` for the registry of an application that included aiotao."""
    query = getattr(registry, 'queryUtility', None)
    return query is not None and query(IAsyncPipeline) is not None
