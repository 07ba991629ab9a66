"""aiotao's services: registered by configurator actions, looked up as utilities.

An add-on's ``includeme`` does not make its service (the broadcast groups,
the game, the chat history...) on first use: it registers an *action*
that makes it when the configuration is committed, and registers it as a
utility under its interface (:mod:`aiotao.interfaces`)::

    register_service(
        config, IChatHistory, make_history,
        title='chat history (MongoDB)', include='aiotao.chat',
    )

Pyramid then does for aiotao's services what it does for views and
routes: two registrations of one service from two includes (two broadcast
backends, two game directories) fail at commit with
``ConfigurationConflictError`` naming both; one made by the application
itself (its own ``config`` rather than an include) overrides the include's;
and ``config.registry.introspector`` lists every service under
:data:`CATEGORY` (``pviews``-like tools, a debug toolbar).

A service is built at commit, from the settings and the services it uses,
but opens no connection then: connections are made in the serving process,
after gunicorn forked it, on first use.  Services used by others are built
first (:data:`CONNECTIONS`, :data:`FOUNDATION`, then :data:`TRACKERS`, then :data:`FEATURES`).

:func:`get_service` looks one up; without the include that registers it,
it fails with the include to add, rather than making a second, private
instance no configuration can see.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from pyramid.config import Configurator
from pyramid.config.actions import action_method
from pyramid.registry import Registry
from zope.interface.interface import InterfaceClass

__all__ = [
    'CATEGORY',
    'CONNECTIONS',
    'FEATURES',
    'FOUNDATION',
    'TRACKERS',
    'get_service',
    'register_service',
]

#: The introspector's category of aiotao's services.
CATEGORY = 'aiotao services'

#: Action orders: a service is built after those it uses.  All after
#: Pyramid's own actions (order 0), so the settings are final.
CONNECTIONS = 5  # the database connection (which the broadcast backend may use)
FOUNDATION = 10  # settings, broadcast groups, stores
TRACKERS = 20  # what runs on the foundation (the presence tracker)
FEATURES = 30  # the game, the chat


_F = TypeVar('_F', bound=Callable[..., Any])


def _directive(function: _F) -> _F:
    # Pyramid's action_method records the caller's line: a conflict names
    # the line that registered each service (typed: Pyramid has no stubs).
    return cast(_F, action_method(function))


@_directive
def register_service(
    config: Configurator,
    interface: InterfaceClass,
    factory: Callable[[Registry], Any],
    *,
    title: str,
    include: str,
    order: int = FOUNDATION,
) -> None:
    """Have ``factory(registry)`` make the ``interface`` utility when ``config`` commits.

    ``title`` describes the service in the introspector (``'broadcast
    groups (redis://…)'``); ``include`` names the include that registers it
    (for the introspector and for :func:`get_service`'s error).  The
    discriminator is the interface: one service per interface.

    >>> from pyramid.config import Configurator
    >>> from aiotao.interfaces import IChatSettings
    >>> config = Configurator(settings={})
    >>> register_service(config, IChatSettings, lambda registry: 'parsed',
    ...                  title='chat settings', include='aiotao.chat')
    >>> config.commit()
    >>> config.registry.getUtility(IChatSettings)
    'parsed'
    """
    registry = config.registry
    discriminator = ('aiotao service', interface)
    intr = config.introspectable(CATEGORY, discriminator, title, CATEGORY)
    intr['interface'] = interface
    intr['factory'] = factory
    intr['include'] = include

    def register() -> None:
        service = factory(registry)
        intr['service'] = service
        registry.registerUtility(service, interface)

    config.action(discriminator, register, order=order, introspectables=(intr,))


def get_service(registry: Registry, interface: InterfaceClass, include: str) -> Any:
    """The ``interface`` utility of ``registry``; fails naming ``include`` if missing.

    >>> from pyramid.registry import Registry
    >>> from aiotao.interfaces import IGroups
    >>> get_service(Registry('demo'), IGroups, 'aiotao.websocket')
    Traceback (most recent call last):
    ...
    LookupError: this application has no IGroups: add config.include('aiotao.websocket') to its configuration (and commit it, e.g. with config.make_wsgi_app())
    """
    service = registry.queryUtility(interface)
    if service is None:
        raise LookupError(
            f'this application has no {interface.__name__}: add '
            f'config.include({include!r}) to its configuration (and commit it, '
            f'e.g. with config.make_wsgi_app())'
        )
    return service
