"""aiotao: async-native Pyramid.

Include it like any Pyramid add-on::

    config = Configurator(settings=settings)
    config.include('aiotao')          # or pyramid.includes = aiotao in the ini

Then views may be ``async def``, security policies, root factories,
``__getitem__``, tweens, subscribers and exception views too.  Servers get
the async application with :func:`make_async_app`.
"""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator

from aiotao.events import notify
from aiotao.router import AsyncRouter

__all__ = ['AsyncRouter', 'includeme', 'make_async_app', 'notify']


def make_async_app(config_or_app: Any) -> AsyncRouter:
    """The :class:`AsyncRouter` for a configurator or a Pyramid WSGI app.

    >>> config = Configurator()
    >>> config.include('aiotao')
    >>> router = make_async_app(config)

    A configurator is committed and made into an application first, as
    ``config.make_wsgi_app()`` would.
    """
    if isinstance(config_or_app, Configurator):
        config_or_app = config_or_app.make_wsgi_app()
    return AsyncRouter.from_wsgi_app(config_or_app)


def includeme(config: Configurator) -> None:
    """Make the application async-native.  See :mod:`aiotao.config`."""
    from aiotao.config import include_async_pipeline

    include_async_pipeline(config)
