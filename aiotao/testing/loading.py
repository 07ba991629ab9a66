"""What a test client serves: the application, however the test holds it.

:func:`load_application` accepts what tests have at hand and returns what
aiotao's servers serve (:mod:`aiotao.serving.application`):

* a :class:`~pyramid.config.Configurator`: committed and made into an app,
  as ``config.make_wsgi_app()`` does;
* a Pyramid WSGI app (``config.make_wsgi_app()``, or what PasteDeploy
  loaded) or an :class:`~aiotao.router.AsyncRouter`: served on the loop;
* an ini file (``'development.ini'``, ``'development.ini#main'``): loaded
  with PasteDeploy, as ``gunicorn --paste`` loads it, optionally with
  settings replaced (a test database, a short timeout);
* any other WSGI app: run in threads, as aiotao's worker runs it.

>>> from pyramid.config import Configurator
>>> config = Configurator(settings={})
>>> config.include('aiotao')
>>> load_application(config)  # doctest: +ELLIPSIS
<PyramidApplication ...>
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pyramid.config import Configurator

from aiotao.router import AsyncRouter
from aiotao.serving.application import (
    PyramidApplication,
    ServedApplication,
    ThreadedWSGIApplication,
    served_application,
)

__all__ = ['load_application', 'load_ini_app']


def load_application(
    app: Any, settings: Mapping[str, Any] | None = None
) -> ServedApplication:
    """The served form of ``app``; ``settings`` replace an ini's settings.

    ``settings`` need an ini: a configurator or an app made from one has
    read its settings already (``config.include`` reads them at once), so
    they are refused there rather than silently ignored.
    """
    if isinstance(app, str | os.PathLike):
        return served_application(load_ini_app(os.fspath(app), settings))
    if settings:
        raise TypeError(
            f'settings= replaces the settings of an ini file; {app!r} is '
            f'configured already: give the settings to its Configurator instead'
        )
    if isinstance(app, PyramidApplication | ThreadedWSGIApplication):
        return app
    if isinstance(app, AsyncRouter):
        return PyramidApplication(app)
    if isinstance(app, Configurator):
        return served_application(app.make_wsgi_app())
    return served_application(app)


def load_ini_app(config_uri: str, settings: Mapping[str, Any] | None = None) -> Any:
    """The WSGI app of ``config_uri`` (``path.ini`` or ``path.ini#name``).

    ``settings`` replace the ``[app:NAME]`` section's values before the
    application factory sees them.  Logging is not configured from the
    ini: the test runner owns logging.
    """
    path, _, name = config_uri.partition('#')
    name = name or 'main'
    if not os.path.exists(path):
        raise FileNotFoundError(f'no such ini file: {os.path.abspath(path)}')
    if not settings:
        from pyramid.paster import get_app

        return get_app(config_uri, name)
    from paste.deploy import loadwsgi

    context = loadwsgi.loadcontext(
        loadwsgi.APP, 'config:' + os.path.abspath(path), name=name
    )
    if context.object_type is not loadwsgi.APP:
        raise TypeError(
            f'settings= needs [app:{name}] in {path} to be an application '
            f'section, not a pipeline or composite; replace the settings of '
            f'the application section itself (config_uri "{path}#APPNAME")'
        )
    context.local_conf.update({key: str(value) for key, value in settings.items()})
    return context.create()
